"""The timeline as ``/api/timeline`` serves it: incidents, late spans, alerts, breakers, bursts of
429s, retries and health changes in a window (one reader each, ``READERS``), newest first, paged,
each with a one-line summary ("HubSpot contacts recovered: 3 runs lost over 2 h 10 min").

The window is ``params.window`` (default the past 24 hours), at most ``MAX_SPAN`` long; ``kind``
(repeated or comma-separated) picks among ``queries.timeline.KINDS``; ``crm_source`` and
``sync_type`` narrow; ``limit`` (default 200, at most 1000) and ``offset`` page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import pandas as pd
from sqlalchemy import Engine

from dashapp import display
from dashapp.auth import disclosure
from dashapp.errors import BadParameter
from dashapp.payloads import params, windows
from dashapp.payloads.result_cache import shared
from dashapp.payloads.together import read_together
from queries import health_changes, timeline_app, timeline_late
from queries import timeline as queries
from queries._sql import MAX_CHOICES

DEFAULT_RANGE = "24h"
MAX_SPAN = timedelta(days=31)
DEFAULT_LIMIT, MAX_LIMIT = 200, 1000
MAX_OFFSET = 100_000


@dataclass(frozen=True)
class TimelineFilter:
    window: params.Window
    start: datetime
    end: datetime
    kinds: tuple[str, ...]
    crm_sources: tuple[str, ...]
    sync_types: tuple[str, ...]
    limit: int
    offset: int


def timeline_filter(args: Mapping[str, list[str]], now: datetime) -> TimelineFilter:
    """The query string's window, kinds, CRMs, sync types and page; a bad value is a BadParameter.
    The window ends at the moment shown (``at``, else now) at the latest: nothing after it is known."""
    now = params.viewing(args, now)
    window = params.window(args, now, DEFAULT_RANGE)
    start, end = window.start, min(window.end or now, now)
    named = "range" if window.range != params.CUSTOM else "start"
    if start is None or end - start > MAX_SPAN:
        raise BadParameter(named, f"the timeline's window is at most {MAX_SPAN.days} days")
    if start >= end:
        raise BadParameter("start", f"{start:%Y-%m-%d %H:%M:%S} UTC is not before the window's end "
                                    f"({end:%Y-%m-%d %H:%M:%S} UTC, {'the moment shown' if end == now else 'end'})")
    for name in ("crm_source", "sync_type"):
        if len(params.values(args, name)) > MAX_CHOICES:
            raise BadParameter(name, f"at most {MAX_CHOICES} values")
    kinds = params.values(args, "kind")
    unknown = [k for k in kinds if k not in queries.KINDS]
    if unknown:
        raise BadParameter("kind", f"{unknown[0][:40]!r} is not one of {', '.join(queries.KINDS)}")
    return TimelineFilter(window, start, end, kinds or queries.KINDS, params.values(args, "crm_source"),
                          params.values(args, "sync_type"),
                          params.whole(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
                          params.whole(args, "offset", 0, 0, MAX_OFFSET))


def timeline_json(engine: Engine, f: TimelineFilter) -> dict:
    """``{"events": [...], "range", "start", "end", "total"}``: the page of events at
    [offset, offset + limit) of all of them, newest first."""
    found = _events(engine, f.window, f.end, f.kinds, f.crm_sources, f.sync_types,
                    max(MAX_LIMIT, f.offset + f.limit))
    return {"events": [as_viewer_may_see(e) for e in found["events"][f.offset:f.offset + f.limit]],
            "range": f.window.range,
            "start": display.iso_utc(f.start), "end": display.iso_utc(f.end), "total": found["total"]}


@windows.keyed
@shared("timeline")
def _events(engine: Engine, window: params.Window, now: datetime, kinds: tuple[str, ...],
            crm_sources: tuple[str, ...], sync_types: tuple[str, ...], wanted: int) -> dict:
    """The ``wanted`` newest events of the window ending at ``now`` and the count of all of them,
    computed once per CACHE_SECONDS for every viewer: the page's list and its lanes (which ask for
    up to MAX_LIMIT, so the list asks for as many) share one computation."""
    if window.range == params.CUSTOM:  # (windows.bounds would reach 10 years back from year 1)
        start, end = window.start, window.end or now
    else:
        start, end = now - windows.SPANS[window.range], now
    frames = read_together(engine, [partial(reader, engine, start, end, kinds, crm_sources, sync_types, wanted)
                                    for reader, _ in READERS])
    records = [event for frame, (_, build) in zip(frames, READERS, strict=True)
               for event in (build(row) for row in frame.to_dict("records"))]
    records.sort(key=lambda e: e["at"], reverse=True)  # ISO texts in UTC with a Z sort as times
    total = sum(int(frame["total"].iloc[0]) for frame in frames if not frame.empty)
    return {"events": records[:wanted], "total": total}


def _moment(value: object) -> str | None:
    """A time of a row as ISO UTC, None where the row has none."""
    return None if value is None or pd.isna(value) else display.iso_utc(value)


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def _whole(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)  # type: ignore[arg-type,call-overload]


SUMMARY_TEXT = 120  # characters of a reason or error in a summary (the event's own field has more)


def _short(text: str) -> str:
    return text if len(text) <= SUMMARY_TEXT else text[:SUMMARY_TEXT - 1] + "…"


def _text(value: object) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def incident_record(row: dict) -> dict:
    """One incident event: when, which sync, its run, and for a resolved one its length and runs lost."""
    who = f"{display.crm_name(row['crm_source'])} {row['sync_type']}"
    record = {"at": display.iso_utc(row["at"]), "kind": row["kind"], "crm_source": row["crm_source"],
              "sync_type": row["sync_type"], "run_id": int(row["run_id"])}
    if row["kind"] == "incident_started":
        record["failed_at"] = _moment(row.get("failed_at"))
        record["summary"] = f"{who} failing from run #{record['run_id']}"
        return record
    seconds, lost = _number(row["incident_seconds"]), int(row["runs_lost"])
    record.update(incident_seconds=seconds, runs_lost=lost, incident_started_at=_moment(row.get("started_at")),
                  summary=f"{who} recovered: {lost} run{'s' if lost != 1 else ''} lost over {display.span(seconds)}")
    return record


def subject_sync(subject: str) -> tuple[str | None, str | None]:
    """An alert subject's CRM and sync type: ``hubspot/contacts run 12`` -> (hubspot, contacts),
    ``hubspot api/v3`` -> (hubspot, None), ``hubspot`` -> (hubspot, None)."""
    head, _, tail = subject.partition("/")
    if tail and " " not in head:
        return head, tail.split(" ")[0] or None
    return subject.split(" ")[0] or None, None


def alert_record(row: dict) -> dict:
    """One alert event: fired, acknowledged or resolved (with ``by``), with its alert's id."""
    crm, sync_type = subject_sync(str(row["subject"]))
    record = {"at": display.iso_utc(row["at"]), "kind": row["kind"], "crm_source": crm, "sync_type": sync_type,
              "alert_id": int(row["alert_id"]), "rule": row["rule"], "severity": row["severity"]}
    what = f"{row['severity']} alert {row['rule']} on {row['subject']}"
    if row["kind"] == "alert_fired":
        record["summary"] = f"{what} fired: {row['alert_summary']}"
    else:
        record["by"] = row["actor"]
        verb = "acknowledged" if row["kind"] == "alert_acknowledged" else "resolved"
        record["summary"] = f"{what} {verb} by {row['actor']}"
    return record


def breaker_record(row: dict) -> dict:
    """A breaker opened or closed: its name, CRM, failure count, reason (bounded) and run, if any."""
    opened = row["kind"] == "breaker_opened"
    record = {"at": display.iso_utc(row["at"]), "kind": row["kind"], "crm_source": row["crm_source"],
              "sync_type": None, "breaker": row["breaker"], "failure_count": _whole(row["failure_count"]),
              "reason": _text(row["reason"]), "run_id": _whole(row["run_id"])}
    what = f"{display.crm_name(row['crm_source'])} breaker {row['breaker']}"
    if opened:
        failures = display.plural(record["failure_count"] or 0, "failure")
        why = f": {_short(record['reason'])}" if record["reason"] else ""
        record["summary"] = f"{what} opened after {failures}{why}"
    else:
        record["summary"] = f"{what} closed"
    return record


def rate_limited_record(row: dict) -> dict:
    """A burst of 429s: from its first call (``at``) to its last (``until``), ``calls`` of them."""
    calls = int(row["calls"])
    until = display.iso_utc(row["until"])
    seconds = (row["until"] - row["at"]).total_seconds()
    return {"at": display.iso_utc(row["at"]), "kind": "rate_limited", "crm_source": row["crm_source"],
            "sync_type": None, "calls": calls, "until": until,
            "summary": f"{display.crm_name(row['crm_source'])} rate limited: {display.plural(calls, 'HTTP 429')}"
                       + (f" over {display.span(seconds)}" if seconds > 0 else "")}


def retry_record(row: dict) -> dict:
    """A retry queued (``by``), resolved (``retry_run_id``, the run it recorded) or abandoned."""
    crm, sync_type, kind = _text(row["crm_source"]), _text(row["sync_type"]), row["kind"]
    record = {"at": display.iso_utc(row["at"]), "kind": kind, "crm_source": crm, "sync_type": sync_type,
              "run_id": int(row["run_id"]), "attempt": _whole(row["attempt"])}
    who = f"{display.crm_name(crm)} {sync_type}" if crm else "an operation"
    run = f"run #{record['run_id']}"
    if kind == "retry_queued":
        record["by"] = _text(row["actor"])
        record["summary"] = f"Retry {record['attempt']} of {who} {run} queued by {record['by']}"
    elif kind == "retry_resolved":
        record["retry_run_id"] = _whole(row["retry_run_id"])
        record["by"] = _text(row["actor"])
        record["summary"] = f"Retry {record['attempt']} of {who} {run} succeeded"
    else:
        record["max_attempts"] = _whole(row["max_attempts"])
        record["error"] = _text(row["error"])
        tries = display.plural(record["attempt"] or 0, "attempt")
        record["summary"] = f"Retries of {who} {run} abandoned after {tries}" + (
            f": {_short(record['error'])}" if record["error"] else "")
    return record


def late_record(row: dict) -> dict:
    """A sync late (no run by its expected time + grace after ``run_id``) or running again (``run_id``)."""
    who = f"{display.crm_name(row['crm_source'])} {row['sync_type']}"
    record = {"at": display.iso_utc(row["at"]), "kind": row["kind"], "crm_source": row["crm_source"],
              "sync_type": row["sync_type"], "run_id": int(row["run_id"]),
              "expected_at": display.iso_utc(row["expected_at"]), "interval_seconds": _number(row["interval_seconds"]),
              "grace_seconds": _number(row["grace_seconds"]), "plan": row["plan"]}
    schedule = _text(row.get("schedule")) or f"every {display.span(record['interval_seconds'])}"
    if row["kind"] == "late_started":
        record["summary"] = (f"{who} late: no run within {display.span(record['grace_seconds'])} of its expected "
                             f"time ({_short(schedule)}, {row['plan']}) after run #{record['run_id']}")
    else:
        record["late_seconds"] = _number(row["late_seconds"])
        late = display.span(record["late_seconds"])
        record["summary"] = f"{who} ran again (run #{record['run_id']}) after {late} late"
    return record


COLOURS = {"healthy": "green", "degraded": "amber", "unhealthy": "red"}
SERVICE_NAMES = {"database": "Database", "impossible_times": "Impossible times", "redis": "Redis", "celery": "Celery"}


def health_record(row: dict) -> dict:
    """A service's health turning green, amber or red (``from_status`` None for its first record)."""
    to_status, from_status = str(row["to_status"]), _text(row["from_status"])
    name = SERVICE_NAMES.get(str(row["service"]), str(row["service"]))
    record = {"at": display.iso_utc(row["at"]), "kind": "health_changed", "crm_source": None, "sync_type": None,
              "change_id": int(row["change_id"]), "service": row["service"], "from_status": from_status,
              "to_status": to_status, "colour": COLOURS.get(to_status), "detail": _text(row["detail"])}
    turned = f"{name} turned {COLOURS.get(to_status, to_status)}"
    if from_status is not None:
        turned += f" (was {COLOURS.get(from_status, from_status)})"
    record["summary"] = turned + (f": {_short(record['detail'])}" if record["detail"] else "")
    record["public_summary"] = turned  # what anyone else reads (``as_viewer_may_see``)
    return record


def as_viewer_may_see(event: dict) -> dict:
    """An event as this request may see it: a health change's probe error (which can name a host,
    a port or a role) for an operator only, as /api/system-health shows it; anyone else reads that
    the service turned red."""
    public = event.get("public_summary")
    if public is None:
        return event
    shown = {k: v for k, v in event.items() if k != "public_summary"}
    return shown if disclosure.may_see_details() else {**shown, "detail": None, "summary": public}


READERS = ((queries.incident_events, incident_record), (timeline_late.late_events, late_record),
           (queries.alert_events, alert_record),
           (timeline_app.breaker_events, breaker_record), (timeline_app.rate_limited_events, rate_limited_record),
           (timeline_app.retry_events, retry_record), (health_changes.events, health_record))
