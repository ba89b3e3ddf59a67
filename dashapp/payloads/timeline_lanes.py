"""The timeline's swimlanes as ``/api/timeline/lanes`` serves them and the /timeline page draws them:
one lane per CRM over the window (those with failed or partial runs first), its runs as bars, the
incident and late spans, and every other event as a point.

The window, CRMs, sync types and kinds are ``dashapp.payloads.timeline.timeline_filter``'s (at most
31 days); ``lane_limit`` (1..40, default 40) and ``lane_offset`` page the lanes. A lane of more than
``MAX_BARS`` runs has them summed in SQL into ``MAX_BARS`` time buckets, each drawn as one bar
coloured by its worst status (``bucketed``). Spans pair ``incident_started`` with the next
``incident_resolved`` of the same CRM and sync type (``late_started``/``late_ended`` likewise); a
span open at the window's end or start is cut there. The events come from ``timeline_json`` (its
newest ``MAX_EVENTS``); a kind this module does not know is drawn as a neutral point.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from dashapp import display
from dashapp.payloads import params, paths
from dashapp.payloads import timeline as timeline_payloads
from dashapp.payloads.timeline import TimelineFilter
from dashapp.payloads.together import read_beside
from queries import timeline as timeline_queries
from queries import timeline_lanes as queries

MAX_LANES = 40  # lanes on one page
MAX_BARS = 120  # bars in one lane; a lane with more runs is bucketed
MAX_EVENTS = timeline_payloads.MAX_LIMIT  # events drawn (the newest)
MAX_EVENT_CRMS = 1000  # CRMs of events checked for runs, in chunks of CHUNK
CHUNK = 200
# a start kind -> (the span's kind, the kind that ends it)
SPANS = {"incident_started": ("incident", "incident_resolved"), "late_started": ("late", "late_ended")}
SPAN_ENDS = {end: (span, start) for start, (span, end) in SPANS.items()}
WORST_FIRST = ("failed", "partial", "running", "unknown", "success")


@dataclass(frozen=True)
class LaneFilter:
    timeline: TimelineFilter
    lane_limit: int
    lane_offset: int


def lane_filter(args: Mapping[str, list[str]], now: datetime) -> LaneFilter:
    """The timeline's filter and the lanes' page; a bad value is a BadParameter naming it."""
    return LaneFilter(timeline_payloads.timeline_filter(args, now),
                      params.whole(args, "lane_limit", MAX_LANES, 1, MAX_LANES),
                      params.whole(args, "lane_offset", 0, 0, timeline_payloads.MAX_OFFSET))


def lane_key(event: Mapping) -> str:
    """The lane an event belongs to: its CRM, else the service it is about (``redis``), else ``app``."""
    if event.get("crm_source") is not None:
        return str(event["crm_source"])
    return str(event.get("service") or "app")


def at_link(moment: str | None) -> str:
    """The overview as of the second after ``moment`` (ISO UTC, whole seconds): a run that began or
    ended in that second (its time has microseconds the ISO text drops) has by then. An incident's
    span links to the second after its first failed run ended: the overview then shows it failed
    (at its start the run was still running, and nothing looked wrong)."""
    if display.finite(moment):
        with contextlib.suppress(OverflowError):  # the last second Python holds: itself
            moment = display.iso_utc(display.from_iso(moment) + timedelta(seconds=1))
    return paths.href(f"/?at={moment}")


def history_link(crm: str | None, sync_type: str | None, start: datetime, end: datetime) -> str:
    """The history of one CRM (and sync type) in [start, end)."""
    return paths.history(params.to_search({"start": display.iso_utc(start), "end": display.iso_utc(end),
                                           "crm_source": [crm] if crm else [],
                                           "sync_type": [sync_type] if sync_type else []}))


def event_link(event: Mapping, start: datetime, end: datetime) -> str:
    """Where an event leads: its run, the alerts page for an alert, else the history of its CRM
    (and sync type) over the window."""
    if event.get("run_id") is not None:
        return paths.run(event["run_id"])
    if event.get("alert_id") is not None:
        return paths.href("/alerts")
    return history_link(event.get("crm_source"), event.get("sync_type"), start, end)


def pair_spans(events: list[dict], start: datetime, end: datetime) -> list[dict]:
    """Incident and late spans from the events (in any order): a start and the next end of the
    same kind, CRM and sync type; an end alone opens at the window's start, a start alone is open
    at its end. Each: kind, lane, crm_source, sync_type, start, end, open_start, open_end, at (when
    it really started, when known), run_id, summary, href."""
    low, high = display.iso_utc(start), display.iso_utc(end)
    opened: dict[tuple, dict] = {}
    spans = []
    for event in sorted(events, key=lambda e: (e["at"] or "", e["kind"] not in SPANS)):
        kind = event["kind"]
        key = (SPANS.get(kind, SPAN_ENDS.get(kind, (None,)))[0], lane_key(event), event.get("sync_type"))
        # a sync's runs may overlap, and so may its incidents: each resolved one names its start
        if kind == "incident_started":
            opened.setdefault((*key, event["at"]), event)
        elif kind in SPANS:
            opened.setdefault(key, event)  # a second start before an end continues the first
        elif kind in SPAN_ENDS:
            began = opened.pop((*key, event.get("incident_started_at")) if kind == "incident_resolved" else key,
                               None)
            if began is not None:
                spans.append(_span(key, began, event, began["at"], False))
            else:
                spans.append(_span(key, None, event, low, True, event.get("incident_started_at")))
    spans += [_span(key[:3], began, None, began["at"], False, end_at=high) for key, began in opened.items()]
    return sorted(spans, key=lambda s: (s["lane"], s["start"] or ""))


def _span(key: tuple, began: dict | None, ended: dict | None, start: str | None, open_start: bool,
          really: str | None = None, end_at: str | None = None) -> dict:
    kind, lane, sync_type = key
    first = began or ended or {}
    at = began["at"] if began else really
    words = "incident" if kind == "incident" else "late"
    summary = " · ".join(e["summary"] for e in (began, ended) if e and e.get("summary"))
    return {"kind": kind, "lane": lane, "crm_source": first.get("crm_source"), "sync_type": sync_type,
            "start": start, "end": ended["at"] if ended else end_at, "open_start": open_start,
            "open_end": ended is None, "at": at, "run_id": first.get("run_id"),
            "summary": summary or words, "href": at_link((began or {}).get("failed_at") or at or start)}


def _wide_enough(span: dict, tick: timedelta) -> dict:
    """A span drawn at least ``tick`` wide (a 2-minute incident in a 30-day window stays clickable);
    ``end`` stays as it was, ``drawn_end`` is where its bar ends."""
    began, ended = display.from_iso(span["start"]), display.from_iso(span["end"])
    if began is None or ended is None or not display.finite(began) or not display.finite(ended):
        return {**span, "drawn_end": span["end"]}
    return {**span, "drawn_end": display.iso_utc(max(ended, began + tick))}


def with_partners(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """``kinds`` and the other end of each span kind among them (an incident's start asked for: its
    end too), so a span is drawn whole whichever end the filter named."""
    partners = {start: end for start, (_, end) in SPANS.items()}
    partners |= {end: start for end, (_, start) in SPAN_ENDS.items()}
    known = set(timeline_queries.KINDS)
    return tuple(dict.fromkeys([*kinds, *(partners[k] for k in kinds if k in partners and partners[k] in known)]))


def worst(counts: Mapping[str, int]) -> str:
    """The worst status class of a bucket's runs."""
    return next((c for c in WORST_FIRST if counts.get(c, 0) > 0), "unknown")


def lanes_json(engine: Engine, lf: LaneFilter, now: datetime) -> dict:
    """``{"lanes": [...], "spans": [...], "points": [...], "total_lanes", ...}`` for the window."""
    f = lf.timeline

    def run_lanes() -> tuple[list[dict], int]:  # the lanes with runs and their bars, beside the events
        ranked = queries.lanes(engine, f.start, f.end, f.crm_sources, f.sync_types, lf.lane_limit, lf.lane_offset)
        total = int(ranked["total"].iloc[0]) if not ranked.empty else _run_lane_total(engine, f, lf.lane_offset)
        found = [{"lane": str(r["crm_source"]), "crm_source": r["crm_source"], "runs": int(r["runs"]),
                  "problems": int(r["problems"] or 0)} for r in ranked.to_dict("records")][:lf.lane_limit]
        _add_bars(engine, f, found, now)
        return found, total

    (lanes, run_total), timeline = read_beside(engine, run_lanes, lambda: timeline_payloads.timeline_json(
        engine, replace(f, kinds=with_partners(f.kinds), limit=MAX_EVENTS, offset=0)))
    events = timeline["events"]
    event_only = _event_only_lanes(engine, f, events)
    room = lf.lane_limit - len(lanes)
    if room > 0:  # the lanes with events but no runs come after every lane with runs
        skip = max(0, lf.lane_offset - run_total)
        quiet = [{"lane": lane, "crm_source": crm, "runs": 0, "problems": 0}
                 for lane, crm in event_only[skip:skip + room]]
        _add_bars(engine, f, quiet, now)  # no runs: names them, reads nothing
        lanes += quiet
    shown = {lane["lane"] for lane in lanes}
    tick = timedelta(seconds=(f.end - f.start).total_seconds() / 600)
    spans = [_wide_enough(s, tick) for s in pair_spans(events, f.start, f.end) if s["lane"] in shown]
    points = [{**{k: e.get(k) for k in ("at", "kind", "crm_source", "sync_type", "summary", "run_id", "alert_id",
                                         "service")},
               "lane": lane_key(e), "href": event_link(e, f.start, f.end)}
              for e in events if e["kind"] not in SPANS and e["kind"] not in SPAN_ENDS and lane_key(e) in shown]
    return {"range": f.window.range, "start": display.iso_utc(f.start), "end": display.iso_utc(f.end),
            "lanes": lanes, "spans": spans, "points": points, "total_lanes": run_total + len(event_only),
            "lane_offset": lf.lane_offset, "lane_limit": lf.lane_limit, "max_bars": MAX_BARS,
            "events_total": timeline["total"], "events_drawn": len(events)}


def _run_lane_total(engine: Engine, f: TimelineFilter, offset: int) -> int:
    """The count of CRMs with runs when the page asked lies past them all (its rows are empty)."""
    if offset == 0:
        return 0
    first = queries.lanes(engine, f.start, f.end, f.crm_sources, f.sync_types, 1, 0)
    return int(first["total"].iloc[0]) if not first.empty else 0


def _event_only_lanes(engine: Engine, f: TimelineFilter, events: list[dict]) -> list[tuple[str, str | None]]:
    """The lanes of events whose CRM has no run in the window (or that name a service), by name."""
    keys = sorted({(lane_key(e), e.get("crm_source")) for e in events}, key=lambda k: k[0])
    crms = [crm for _, crm in keys if crm is not None][:MAX_EVENT_CRMS]
    with_runs: set[str] = set()
    for offset in range(0, len(crms), CHUNK):
        chunk = tuple(crms[offset:offset + CHUNK])
        found = queries.lanes(engine, f.start, f.end, chunk, f.sync_types, queries.MAX_LANES, 0)
        with_runs |= set(found["crm_source"])
    return [(lane, crm) for lane, crm in keys if crm is None or (crm not in with_runs and crm in crms)]


def bucket_grid(start: datetime, end: datetime) -> tuple[int, datetime]:
    """A bucketed lane's bucket length (seconds) and where bucket 0 starts: the window in MAX_BARS
    buckets from its start; where that is an hour or more, whole hours from the hour the window
    starts in, so the hourly run rollups answer them (the first bucket is cut at the window's start)."""
    seconds = max(1, math.ceil((end - start).total_seconds() / MAX_BARS))
    if seconds < 3600:
        return seconds, start
    return math.ceil(seconds / 3600) * 3600, start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _add_bars(engine: Engine, f: TimelineFilter, lanes: list[dict], now: datetime) -> None:
    """Each lane's bars: one a run, or one a bucket when the lane has more than MAX_BARS runs."""
    few = tuple(lane["crm_source"] for lane in lanes if 0 < lane["runs"] <= MAX_BARS)
    many = tuple(lane["crm_source"] for lane in lanes if lane["runs"] > MAX_BARS)
    window = (f.end - f.start).total_seconds()
    tick = timedelta(seconds=window / 600)  # the least width a bar is drawn with
    bars: dict[str, list[dict]] = {lane["lane"]: [] for lane in lanes}
    for row in queries.lane_runs(engine, f.start, f.end, few, f.sync_types, MAX_BARS * max(1, len(few))
                                 ).to_dict("records"):
        began = display.from_iso(display.iso_utc(row["start_time"]))
        ended = display.from_iso(display.iso_utc(row["end_time"])) if display.finite(row["end_time"]) else None
        status_class = display.text(row["status_class"]) or "unknown"
        if ended is None and status_class == "running":
            ended = min(now, f.end)
        ended = max(ended if ended is not None and ended > began else began, began + tick)
        ended = min(ended, max(f.end, began + tick))  # cut at the window's end
        bars[str(row["crm_source"])].append({
            "start": display.iso_utc(began), "end": display.iso_utc(ended), "status_class": status_class,
            "status": display.text(row["status"]), "sync_type": display.text(row["sync_type"]),
            "run_id": int(row["id"]), "runs": 1,
            "href": paths.run(int(row["id"]))})
    seconds, anchor = bucket_grid(f.start, f.end)
    for row in queries.lane_buckets(engine, f.start, f.end, many, seconds, f.sync_types, anchor).to_dict("records"):
        began = anchor + timedelta(seconds=seconds * int(row["bucket"]))
        ended = min(began + timedelta(seconds=seconds), f.end)
        began = max(began, f.start)
        counts = {c: int(row[c] or 0) for c in ("success", "failed", "partial", "running")}
        counts["unknown"] = int(row["other"] or 0)
        bars[str(row["crm_source"])].append({
            "start": display.iso_utc(began), "end": display.iso_utc(ended), "status_class": worst(counts),
            "runs": int(row["runs"]), "counts": counts, "run_id": None,
            "href": history_link(row["crm_source"], f.sync_types[0] if len(f.sync_types) == 1 else None,
                                 began, ended)})
    for lane in lanes:
        lane["bucketed"] = lane["runs"] > MAX_BARS
        lane["bucket_seconds"] = seconds if lane["bucketed"] else None
        crm = lane["crm_source"]
        lane["name"] = lane["lane"] if crm is None else display.crm_name(crm) if crm.strip() else f"{crm!r} (blank)"
        lane["bars"] = bars.get(lane["lane"], [])
