"""The morning digest's summary, one function for the sender (``dashapp.alerts.digest``), the
``/api/digest`` route and the timeline page's card: the 24 hours before ``end``.

- ``runs``: the runs that finished in the window, ``completed`` + ``failed`` + ``partial``, counted
  as the overview counts them (``queries.overview``: by end_time, a failed run that never closed by
  its start); ``failure_rate`` and ``partial_rate`` as ``queries.outcomes`` defines them;
- ``week_before``: the same over the 7 days before the window, and ``change``: the rates' difference
  in percentage points (None when either window had no finished run);
- ``incidents``: from ``queries.timeline.incident_events`` (a sync's first failed or partial run
  after a success, resolved by the next success), those resolved or started in the window, newest
  start first, at most MAX_INCIDENTS, with ``incidents_total`` (``incidents_truncated``: the day had
  more than MAX_EVENTS incident events, and only the newest were counted); one still open at ``end``
  has its length and runs lost so far;
- ``late``: the syncs late at ``end`` (the overview's sync states), only for a window ending now:
  beat keeps only each task's latest run, so the states at the end of a past day cannot be told
  (``late`` is then None and ``late_note`` says why);
- ``worst_crm``: the CRM with the most failed and partial runs in the window, ties by ``crm_source``.

``digest`` writes its links as app paths (``/timeline?start=..&end=..``: the sender puts PUBLIC_URL
before them); ``digest_json`` as browsers request them, under URL_PREFIX.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from dashapp import display
from dashapp.alerts.digest import day_window, timeline_link
from dashapp.config import Settings
from dashapp.errors import BadParameter
from dashapp.payloads import params, paths
from dashapp.payloads.overview import all_crm_statuses
from queries import digest as queries
from queries import outcomes
from queries.time_bounds import EARLIEST
from queries.timeline import incident_events

WINDOW = timedelta(hours=24)
WEEK = timedelta(days=7)
MAX_INCIDENTS = 25
MAX_LATE = 50
MAX_EVENTS = 2000  # incident events read; more in one day is counted but not all listed
LIVE = timedelta(minutes=5)  # a window ending this close to now ends "now": its late syncs are known
PAD = timedelta(hours=1)  # an incident's timeline link shows this much before and after it
PAST_LATE_NOTE = ("late syncs are known only for the 24 hours ending now: the states at the end of a past day "
                  "cannot be told (beat keeps only each task's latest run)")


def _rates(counts: dict[str, int], start: datetime, end: datetime) -> dict:
    c, f, p = counts["completed"], counts["failed"], counts["partial"]
    return {"start": display.iso_utc(start), "end": display.iso_utc(end), "runs": c + f + p, **counts,
            "failure_rate": outcomes.failure_rate(c, f), "partial_rate": outcomes.partial_rate(c, f, p)}


def _shifted(moment: datetime | None, by: timedelta) -> datetime | None:
    """``moment + by``, kept within the years Python holds (an incident from year 1 or -infinity)."""
    if moment is None:
        return None
    try:
        return moment + by
    except OverflowError:
        return moment


def _moment(value: object) -> datetime | None:
    if value is None or (not isinstance(value, datetime) and pd.isna(value)):
        return None
    moment = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # type: ignore[union-attr]


def _incidents(engine: Engine, start: datetime, end: datetime) -> tuple[list[dict], int, bool]:
    """The incidents resolved or started in [start, end), newest start first (bounded), how many,
    and whether there were more incident events than MAX_EVENTS (then only the newest are counted)."""
    frame = incident_events(engine, start, end, limit=MAX_EVENTS)
    events = sorted(frame.to_dict("records"), key=lambda e: (_moment(e["at"]), e["kind"] == "incident_started"))
    found: list[dict] = []
    open_by_pair: dict[tuple, dict] = {}
    for event in events:
        pair = (event["crm_source"], event["sync_type"])
        at = _moment(event["at"])
        if event["kind"] == "incident_started":
            open_by_pair[pair] = {"pair": pair, "started": at, "resolved": None, "seconds": None, "runs_lost": None}
            found.append(open_by_pair[pair])
            continue
        seconds = None if pd.isna(event["incident_seconds"]) else float(event["incident_seconds"])
        incident = open_by_pair.pop(pair, None)
        if incident is None:  # it started before the window
            started = _shifted(at, timedelta(seconds=-seconds)) if seconds is not None and at else None
            incident = {"pair": pair, "started": started}
            found.append(incident)
        incident.update(resolved=at, seconds=seconds, runs_lost=int(event["runs_lost"]))
    total = len(found)
    found.sort(key=lambda i: (i["started"] or datetime.min.replace(tzinfo=UTC)), reverse=True)
    shown = found[:MAX_INCIDENTS]
    for incident in shown:
        if incident["resolved"] is None and incident["started"] is not None:
            incident["seconds"] = max(0.0, (end - incident["started"]).total_seconds())
            incident["runs_lost"] = queries.runs_lost(engine, *incident["pair"], incident["started"], end)
    truncated = not frame.empty and int(frame["total"].iloc[0]) > len(frame)
    return [_incident_record(i, end) for i in shown], total, truncated


def _incident_record(incident: dict, end: datetime) -> dict:
    crm, sync_type = incident["pair"]
    started, resolved = incident["started"], incident["resolved"]
    return {
        "crm_source": crm, "name": display.crm_name(crm), "sync_type": sync_type,
        "started": display.iso_utc(started), "resolved": display.iso_utc(resolved),
        "still_open": resolved is None, "seconds": incident["seconds"],
        "length": display.span(incident["seconds"]) + (" so far" if resolved is None else ""),
        "runs_lost": incident["runs_lost"],
        "timeline_link": timeline_link(_shifted(started, -PAD) or _shifted(end, -WINDOW),
                                           _shifted(resolved or end, PAD)),
    }


def _late(engine: Engine, end: datetime) -> tuple[list[dict], int]:
    found = [{"crm_source": crm["crm_source"], "name": crm["name"], "sync_type": kind["sync_type"],
              "overdue_seconds": kind["overdue_seconds"], "expected_at": kind["expected_at"],
              "state_reason": kind["state_reason"]}
             for crm in all_crm_statuses(engine, end)["crms"] for kind in crm["sync_types"] if kind["state"] == "late"]
    found.sort(key=lambda r: (-r["overdue_seconds"], str(r["crm_source"]), str(r["sync_type"])))
    return found[:MAX_LATE], len(found)


def _worst(engine: Engine, start: datetime, end: datetime) -> dict | None:
    tied = queries.worst_crms(engine, start, end)
    if not tied:
        return None
    worst = min(tied, key=lambda r: (r["crm_source"] is None, r["crm_source"] or ""))
    return {**worst, "name": display.crm_name(worst["crm_source"]) if worst["crm_source"] is not None else None}


def digest(engine: Engine, end: datetime, now: datetime | None = None) -> dict:
    """The summary of the 24 hours before ``end`` (aware, or naive UTC); ``now`` (default: the
    clock) decides whether the syncs late at ``end`` can be told."""
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    start = end - WINDOW
    day = _rates(queries.outcome_counts(engine, start, end), start, end)
    week = _rates(queries.outcome_counts(engine, start - WEEK, start), start - WEEK, start)
    week["runs_per_day"] = round(week["runs"] / (WEEK / WINDOW), 1)  # to set beside the day's runs
    comparable = day["runs"] > 0 and week["runs"] > 0
    incidents, incidents_total, truncated = _incidents(engine, start, end)
    summary = {
        "day": None, **day, "week_before": week,
        "change": {rate: round(day[rate] - week[rate], 2) if comparable else None
                   for rate in ("failure_rate", "partial_rate")},
        "incidents": incidents, "incidents_total": incidents_total, "incidents_truncated": truncated,
        "late": None, "late_total": None, "late_note": None,
        "worst_crm": _worst(engine, start, end),
        "timeline_link": timeline_link(start, end),
        "generated_at": display.iso_utc(now),
    }
    if abs(now - end) <= LIVE:
        summary["late"], summary["late_total"] = _late(engine, end)
    else:
        summary["late_note"] = PAST_LATE_NOTE
    return summary


def day_param(args: Mapping[str, list[str]], settings: Settings, now: datetime) -> date | None:
    """``day=YYYY-MM-DD``: a local day (DISPLAY_TIMEZONE) from 2000-01-01 to today; absent: None."""
    raw = params.first(args, "day")
    if raw is None:
        return None
    try:
        day = date.fromisoformat(raw.strip()) if len(raw.strip()) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise BadParameter("day", f"{raw[:40]!r} is not a day such as 2026-12-04 (YYYY-MM-DD)")
    if day > now.date() + timedelta(days=1):  # far ahead (9999-12-31 has no next day to end on)
        raise BadParameter("day", f"{day.isoformat()} has not begun yet")
    start, _ = day_window(day, settings)
    if start > now:
        raise BadParameter("day", f"{day.isoformat()} has not begun yet")
    if day < EARLIEST.date():
        raise BadParameter("day", f"{day.isoformat()} is before {EARLIEST.date().isoformat()}")
    return day


def digest_json(engine: Engine, settings: Settings, args: Mapping[str, list[str]], now: datetime) -> dict:
    """``/api/digest`` (and the timeline page's card): the digest of ``day`` (the 24 hours ending the
    next day at DIGEST_AT, or midnight, in DISPLAY_TIMEZONE; a day still under way ends now), else of
    the 24 hours ending now; its links under URL_PREFIX, as every link the app writes."""
    day = day_param(args, settings, now)
    if day is None:
        return digest_until(engine, now, now)
    _, end = day_window(day, settings)
    return {**digest_until(engine, min(end, now), now), "day": day.isoformat()}


def digest_until(engine: Engine, end: datetime, now: datetime) -> dict:
    """The digest of the 24 hours before ``end`` with its links under URL_PREFIX: the timeline
    page's summary of the day its window ends with."""
    summary = digest(engine, end, now)
    return {**summary, "timeline_link": paths.href(summary["timeline_link"]),
            "incidents": [{**i, "timeline_link": paths.href(i["timeline_link"])} for i in summary["incidents"]]}
