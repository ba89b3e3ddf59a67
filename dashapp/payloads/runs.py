"""One run as ``GET /api/runs/<id>`` serves it and ``/runs/<id>`` renders it: every column, its
API calls and their summary, breaker transitions, alerts, the failed operation, the runs before
it and how this one compares, and for a running run its expected duration and ETA.

As of a past moment ``at`` (``run_page(..., as_of=True)`` with ``now`` = at): a run that ended after it
was running then, without an end or an error message yet; its calls, breaker transitions and
alerts are those by then (an alert resolved later was firing), the runs before it are as they
were then, its expected duration comes from runs that had ended by then. Its record counts are
its final ones (the table keeps no earlier values): ``as_of_note`` says so.

SQL: ``queries.run_detail``. Long texts arrive cut to their bound (``queries.messages``): each
record says the full length and whether it was cut (``message_length``, ``message_truncated``);
``GET /api/runs/<id>/error`` serves the whole message.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from dashapp import display
from dashapp.payloads import paths
from dashapp.payloads.params import to_search
from dashapp.payloads.result_cache import shared
from queries import failed_operations, messages, outcomes, run_detail
from queries.crm_api_usage import migrated
from queries.error_classes import error_class, search_text

COLUMNS = ("id", "crm_source", "sync_type", "endpoint", "status", "start_time", "end_time", "records_processed",
           "records_created", "records_updated", "records_failed", "error_message", "configuration",
           "performance_metrics", "created_at")
JSON_TEXTS = ("configuration", "performance_metrics")
LENGTHS = tuple(f"{c}_length" for c in ("error_message", "endpoint", *JSON_TEXTS))


def _json_value(value: object) -> object:
    """A configuration or metrics value as JSON: parsed when it is JSON text, else as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value if isinstance(value, dict | list | int | float | bool) or value is None else str(value)


def _json_text(row: dict, column: str) -> dict:
    """A JSON column read as text cut to its bound: parsed when whole, else the cut text, with
    ``<column>_length`` and ``<column>_truncated``."""
    shown = messages.fields(column, row.get(column), row.get(f"{column}_length"))
    if not shown[f"{column}_truncated"]:
        shown[column] = _json_value(row.get(column))
    return shown


def _float(value: object) -> float | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return round(float(value), 3)


def _int(value: object) -> int | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else int(value)


def history_link(**state: object) -> str:
    return paths.history(to_search({"range": "all", **state}))


AS_OF_NOTE = ("as of a past moment: a run that ended later is shown running, without its end or error; "
              "its record counts are its final ones, the table keeps no earlier values")


def _ended_after(end: object, at: datetime) -> bool:
    return end is not None and not (not isinstance(end, str) and pd.isna(end)) and pd.Timestamp(end) > at


def row_at(row: dict, at: datetime) -> dict:
    """A run's row as it was at ``at``: one that ended after it was running then, with no end
    and no error message yet (its other columns as stored)."""
    if not _ended_after(row.get("end_time"), at):
        return row
    cleared = {"status": "running", "end_time": None, "error_message": None}
    if "error_message_length" in row:
        cleared["error_message_length"] = None
    if "duration_seconds" in row:
        cleared["duration_seconds"] = None
    return {**row, **cleared}


def status_class(raw: object, pairs: tuple[tuple[str, str], ...] = outcomes.DEFAULT_ALIASES) -> str:
    """The class of a raw status (``queries.outcomes``), ``unknown`` for a value in none."""
    return outcomes.status_class(raw, pairs) or "unknown"


def run_json(row: dict, now: datetime, pairs: tuple[tuple[str, str], ...] = outcomes.DEFAULT_ALIASES) -> dict:
    """Every column of the run, its status class, duration and records per second."""
    start, end = row["start_time"], row["end_time"]
    running = status_class(row["status"], pairs) == "running"
    duration = None  # unknown where either time is ±infinity (display.finite)
    if display.finite(start):
        if end is not None and not pd.isna(end):
            duration = max((end - start).total_seconds(), 0.0) if display.finite(end) else None
        elif running:
            duration = max((pd.Timestamp(now) - start).total_seconds(), 0.0)
    processed = display.count(row.get("records_processed"))
    known = {*COLUMNS, *LENGTHS}
    extra = {k: display.text(v) if not isinstance(v, dict | list) else v for k, v in row.items() if k not in known}
    return {
        "id": int(row["id"]),
        "crm_source": row["crm_source"],
        "name": display.crm_name(row["crm_source"]),
        "sync_type": row["sync_type"],
        **messages.fields("endpoint", row.get("endpoint"), row.get("endpoint_length")),
        "status": display.text(row["status"]),
        "status_class": status_class(row["status"], pairs),
        "start_time": display.iso_utc(start),
        "end_time": display.iso_utc(end),
        "created_at": display.iso_utc(row.get("created_at")),
        "duration_seconds": None if duration is None else round(duration, 3),
        "records_processed": processed,
        "records_created": display.count(row.get("records_created")),
        "records_updated": display.count(row.get("records_updated")),
        "records_failed": display.count(row.get("records_failed")),
        "records_per_second": round(processed / duration, 3) if duration else None,
        **messages.fields("error_message", row.get("error_message"), row.get("error_message_length")),
        **_json_text(row, "configuration"),
        **_json_text(row, "performance_metrics"),
        **extra,
    }


def progress_json(run: dict, expected: dict | None, now: datetime) -> dict:
    """The expected duration (median of the last successful runs of the same CRM and type), and
    for a running run: ETA, percent of the expected time elapsed, overdue (past their p95)."""
    median = expected and _float(expected.get("median_seconds"))
    p95 = expected and _float(expected.get("p95_seconds"))
    out = {"expected_seconds": median, "expected_p95_seconds": p95,
           "expected_from_runs": _int(expected.get("runs")) if expected else 0,
           "eta": None, "progress_percent": None, "overdue": False}
    if run["status_class"] != "running" or not run["start_time"]:
        return out
    elapsed = run["duration_seconds"] or 0.0
    if median and display.finite(run["start_time"]):
        started = display.from_iso(run["start_time"])
        out["eta"] = display.iso_utc(started + timedelta(seconds=median))
        out["progress_percent"] = round(min(elapsed * 100.0 / median, 999.0), 1)
    out["overdue"] = bool(p95 is not None and elapsed > p95)
    return out


OPEN_RUN_MOST = timedelta(days=1)  # the longest window by time of a run without an end


def span_text(seconds: float) -> str:
    """A duration as a person reads it: ``3 h 10 min``, ``4 min 5 s``, ``12 s``."""
    whole = max(int(round(seconds)), 0)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
             f"{secs} s" if secs and not (days or hours) else ""]
    return " ".join(p for p in parts if p) or "0 s"


def calls_window(engine: Engine, run: dict, now: datetime) -> tuple[datetime | None, datetime | None, dict]:
    """The window in which the CRM's calls without a run id, its breakers' transitions and its
    alerts are matched to ``run`` by time: (from, to, ``calls_window`` as the payload says it).

    A run with an end: its start to its end. A run without one (end NULL or ±infinity, or an end
    still in the future, which no finished run can have): its start
    plus what its kind of run can take, the p99 duration of the latest finished runs of its CRM
    and sync type (else of its CRM, else OPEN_RUN_MOST), at most OPEN_RUN_MOST and never past
    now; so a run left open 40 days is not credited with every call of its CRM since. A run whose
    start is not a finite time has no window: nothing is matched to it by time."""
    start = display.from_iso(run["start_time"])
    end = display.from_iso(run["end_time"])
    if start is None or not display.finite(start):
        return None, None, {"from": None, "to": None, "bounded": True, "seconds": None, "basis": None, "from_runs": 0,
                            "reason": "its start is not a finite time: nothing is matched to it by time"}
    if end is not None and display.finite(end) and end <= now:
        return start, end, {"from": display.iso_utc(start), "to": display.iso_utc(end), "bounded": False,
                            "seconds": round(max((end - start).total_seconds(), 0.0), 3), "basis": "end",
                            "from_runs": 0, "reason": None}
    crm, kind = run["crm_source"], run["sync_type"]
    usual = run_detail.usual_duration(engine, crm, kind, now=now)
    basis, of = "crm_sync_type", f"{display.crm_name(crm)} {kind}"
    if usual is None:
        usual, basis, of = run_detail.usual_duration(engine, crm, None, now=now), "crm", display.crm_name(crm)
    most = OPEN_RUN_MOST.total_seconds()
    if usual is None:
        seconds, runs, why = most, 0, f"no finished {display.crm_name(crm)} run to measure: at most {span_text(most)}"
        basis = "default"
    else:
        seconds, runs = min(usual[0], most), usual[1]
        why = f"the p99 of {runs} finished {of} runs" + ("" if usual[0] <= most else f", capped at {span_text(most)}")
    to = min(start + timedelta(seconds=seconds), now)
    taken = max((to - start).total_seconds(), 0.0)
    cut_by_now = to < start + timedelta(seconds=seconds)
    no_end = "its end is in the future" if end is not None and display.finite(end) else "the run has no end"
    reason = (f"{no_end}: matched by time over its first {span_text(taken)} "
              + ("(so far; " if cut_by_now else "(") + why + ")")
    return start, to, {"from": display.iso_utc(start), "to": display.iso_utc(to), "bounded": True,
                       "seconds": round(taken, 3), "basis": basis, "from_runs": runs, "reason": reason}


def _calls(engine: Engine, run: dict, now: datetime, as_of: bool = False) -> dict:
    empty = {"api_calls": [], "api_calls_correlated": True, "api_calls_truncated": False,
             "api_calls_summary": _summary({}), "calls_window": None, "breaker_events": [], "alerts": []}
    if not migrated(engine):
        return {**empty, "note": "The app's own tables are missing: run `python app.py db upgrade`."}
    start, end, window = calls_window(engine, run, now)
    correlated = run_detail.has_correlated_calls(engine, run["id"])
    until = now if as_of else None
    scope = run_detail.CallScope(run["id"], run["crm_source"], start, end, correlated, until)
    summary = _summary(run_detail.calls_summary(engine, scope))
    calls = [{"called_at": display.iso_utc(c["called_at"]), "method": c["method"], "endpoint": c["endpoint"],
              "status": _int(c["status_code"]), "duration_ms": _float(c["duration_ms"]),
              "retries": _int(c["retries"]) or 0, **messages.fields("error", c["error"], c["error_length"]),
              "rate_limit_remaining": _int(c["rate_limit_remaining"]), "correlated": correlated}
             for c in run_detail.run_calls(engine, scope).to_dict("records")]
    events = [{"occurred_at": display.iso_utc(e["occurred_at"]), "breaker": e["breaker"],
               "from_state": e["from_state"], "to_state": e["to_state"], "failure_count": int(e["failure_count"]),
               **messages.fields("reason", e["reason"], e["reason_length"]), "correlated": bool(e["correlated"])}
              for e in run_detail.breaker_events(engine, run["id"], run["crm_source"], start, end,
                                                 until=until).to_dict("records")]
    alerts = [{"id": int(a["id"]), "rule": a["rule"], "subject": a["subject"], "severity": a["severity"],
               **messages.fields("summary", a["summary"], a["summary_length"]), "state": a["state"],
               "fired_at": display.iso_utc(a["fired_at"]),
               "resolved_at": display.iso_utc(a["resolved_at"])}
              for a in run_detail.run_alerts(engine, run["id"], run["crm_source"], start, end).to_dict("records")]
    if as_of:  # an alert resolved after the moment was firing then
        alerts = [{**a, "state": "firing", "resolved_at": None} if _ended_after(a["resolved_at"], now) else a
                  for a in alerts if a["fired_at"] is None or display.from_iso(a["fired_at"]) <= now]
    return {"api_calls": calls, "api_calls_correlated": correlated,
            "api_calls_truncated": summary["calls"] > len(calls), "api_calls_summary": summary,
            "calls_window": window, "breaker_events": events, "alerts": alerts}


def _summary(row: dict) -> dict:
    return {
        "calls": _int(row.get("calls")) or 0,
        "by_class": {"ok": _int(row.get("ok")) or 0, "4xx": _int(row.get("client_errors")) or 0,
                     "5xx": _int(row.get("server_errors")) or 0, "no_response": _int(row.get("no_response")) or 0},
        "throttled": _int(row.get("throttled")) or 0,
        "p50_ms": _float(row.get("p50_ms")),
        "p95_ms": _float(row.get("p95_ms")),
        "lowest_remaining": _int(row.get("lowest_remaining")),
    }


def _previous(engine: Engine, run: dict, as_of: datetime | None = None) -> tuple[list[dict], dict]:
    start = display.from_iso(run["start_time"])
    frame = run_detail.previous_runs(engine, run["crm_source"], run["sync_type"], run["id"], start)
    pairs = outcomes.aliases(engine)
    rows = frame.to_dict("records")
    if as_of is not None:
        rows = [row_at(r, as_of) for r in rows]
    previous = [{"id": int(r["id"]), "status": display.text(r["status"]),
                 "status_class": status_class(r["status"], pairs),
                 "start_time": display.iso_utc(r["start_time"]), "end_time": display.iso_utc(r["end_time"]),
                 "duration_seconds": _float(r["duration_seconds"]),
                 "records_processed": display.count(r["records_processed"]),
                 **messages.fields("error_message", r["error_message"], r["error_message_length"])}
                for r in rows]
    # medians of at most PREVIOUS_RUNS rows already read (a bounded page, not a table)
    durations = [p["duration_seconds"] for p in previous if p["duration_seconds"] is not None
                 and p["status_class"] != "running"]
    records = [p["records_processed"] for p in previous if p["status_class"] != "running"]
    median_duration = round(statistics.median(durations), 3) if durations else None
    median_records = statistics.median(records) if records else None
    last_ok = run_detail.last_success(engine, run["crm_source"], run["sync_type"], start, ended_by=as_of)
    changed = {
        "duration_seconds": run["duration_seconds"],
        "median_duration_seconds": median_duration,
        "duration_ratio": round(run["duration_seconds"] / median_duration, 2)
        if run["duration_seconds"] is not None and median_duration else None,
        "records_processed": run["records_processed"],
        "median_records": median_records,
        "records_ratio": round(run["records_processed"] / median_records, 2) if median_records else None,
        "error_class": run["error_class"],
        "last_success": None if last_ok is None else {
            "id": int(last_ok["id"]), "start_time": display.iso_utc(last_ok["start_time"]),
            "end_time": display.iso_utc(last_ok["end_time"])},
        "runs_since_last_success": None if last_ok is None else
        sum(1 for p in previous if p["start_time"] and p["start_time"] > display.iso_utc(last_ok["start_time"])),
    }
    return previous, changed


OPERATION_FIELDS = ("state", "attempts", "max_attempts", "last_error", "last_error_length", "last_error_truncated",
                    "task_id", "resolved_by_run", "queued_at", "started_at", "finished_at", "updated_at")


def _operation(engine: Engine, run: dict, max_attempts: int, details: bool,
               as_of: datetime | None = None) -> dict | None:
    if run["status_class"] not in ("failed", "partial") or not migrated(engine):
        return None
    if as_of is not None:
        from dashapp.payloads.failed import operation_json_at

        record = operation_json_at(engine, run["id"], as_of, max_attempts, details)
        return None if record is None else {k: record[k] for k in OPERATION_FIELDS}
    frame = failed_operations.operations(engine, failed_operations.OperationFilter(sync_ids=(run["id"],)), 1,
                                         bound=messages.MESSAGE_BOUND)
    if frame.empty:
        return None
    from dashapp.payloads.failed import operation_record

    record = operation_record(frame.to_dict("records")[0], max_attempts, details)
    return {k: record[k] for k in OPERATION_FIELDS}


@shared("run_page")
def run_page(engine: Engine, run_id: int, now: datetime, max_attempts: int = 3, details: bool = False,
             as_of: bool = False) -> dict | None:
    """The JSON of /api/runs/<id>, or None for no such run; ``details``: an operator asks (its
    failed operation's ``last_error`` when a broker refused the retry, ``payloads.failed``);
    ``as_of``: ``now`` is a past moment the run is shown at (a run not started by then is None too).
    Shared between viewers for CACHE_SECONDS (``result_cache``: keyed by the run's id and
    ``details``, not ``now``), so a crowd (or a loop) on one run costs one computation per window."""
    row = run_detail.run_row(engine, run_id)
    if row is None:
        return None
    if as_of:
        if _ended_after(row.get("start_time"), now):
            return None
        row = row_at(row, now)
    run = run_json(row, now, outcomes.aliases(engine))
    cls = error_class(run["error_message"]) if run["error_message"] else None
    run["error_class"] = cls
    at = display.iso_utc(now) if as_of else None  # links to the history as of the same moment
    run["error_class_link"] = history_link(status=[run["status_class"]]
                                           if run["status_class"] in ("failed", "partial") else [],
                                           crm_source=run["crm_source"], q=search_text(cls), at=at) if cls else None
    run["history_link"] = history_link(crm_source=run["crm_source"], sync_type=run["sync_type"], at=at)
    expected = run_detail.expected_durations(engine, [(run["crm_source"], run["sync_type"])],
                                             ended_by=now if as_of else None)
    progress = progress_json(run, expected.to_dict("records")[0] if not expected.empty else None, now)
    previous, changed = _previous(engine, run, now if as_of else None)
    page = {
        "run": {**run, **progress},
        **_calls(engine, run, now, as_of),
        "previous_runs": previous,
        "what_changed": changed,
        "failed_operation": _operation(engine, run, max_attempts, details, now if as_of else None),
        "generated_at": display.iso_utc(now),
    }
    if as_of:
        page["as_of"] = display.iso_utc(now)
        page["as_of_note"] = AS_OF_NOTE
    return page
