"""The failed-operations console's numbers as the JSON ``/api/failed-operations`` serves and the
``/failed`` page renders: one record per operation, counts per state, attempts, audit rows.

An operation's ``last_error`` is the retried sync's own error (shown to everyone), or the app's
own words about its broker when a retry could not be queued (``not queued: ...``): that one names
hosts and ports, so only an operator (``details``) reads it; anyone else reads its class
("not queued: the broker could not be reached", ``dashapp.auth.failure_classes``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from dashapp import display
from dashapp.auth.failure_classes import retry_error
from dashapp.errors import BadParameter
from dashapp.payloads import params
from dashapp.payloads.params import MAX_VALUES, values
from queries import failed_operations as queries
from queries import messages
from queries.failed_operations import STATES, OperationFilter

READ_ONLY_NOTE = ("read-only: the app's own tables do not exist yet, so these are the failed and partial runs "
                  "straight from sync_history; run `python app.py db upgrade` to turn on retries, their "
                  "attempts and the audit log")

DEFAULT_RANGE = "7d"
AS_OF_NOTE = ("as of a past moment: the operations whose run had failed by then, each in the state its retry "
              "attempts queued by then gave it (an attempt finished later was still queued or running); "
              "retries act on the present, so they are off here")


def sync_types(args: Mapping[str, list[str]]) -> tuple[str, ...]:
    """The sync-type filter: ``sync_type``, else the deprecated ``operation_type`` (when both are
    given, ``sync_type`` wins)."""
    return values(args, "sync_type") or values(args, "operation_type")


def operation_filter(args: Mapping[str, list[str]], now: datetime, as_of: datetime | None = None) -> OperationFilter:
    """An OperationFilter from query-string values: the window (``range`` 24h, 7d default, 30d, 90d,
    all; or ``start``/``end``; the deprecated ``age``: ``params.window``), crm_source, sync_type
    (deprecated: operation_type), state (repeated or comma-separated; none or ``any``: every state,
    so an operator watching a retry sees it resolve). ``as_of``: the moment shown (``at``): the
    window ends there and only runs that had failed by then count."""
    window = params.window(args, as_of or now, DEFAULT_RANGE)
    states = tuple(s for s in values(args, "state") if s != "any")
    for state in states:
        if state not in STATES:
            raise BadParameter("state", f"{state[:40]!r} is not one of {', '.join(STATES)} (or any)")
    return OperationFilter(since=window.start, until=window.end, crm_sources=values(args, "crm_source"),
                           sync_types=sync_types(args), states=states, ended_by=as_of)


SINGLE_NAMES = ("range", "start", "end", "age")  # one value each
FILTER_NAMES = (*SINGLE_NAMES, "crm_source", "sync_type", "operation_type", "state")


def filter_args(spec: object) -> dict[str, list[str]]:
    """A bulk retry's ``{"filter": {...}}`` as query-string values: each a string or a list of
    strings, each list capped (``params.MAX_VALUES``) before any work; the window names take one
    value. The names are the query string's (``range``, ``start``, ``end``, ``crm_source``,
    ``sync_type``, ``state``; the deprecated ``age`` and ``operation_type`` too)."""
    if not isinstance(spec, dict):
        raise BadParameter("filter", "must be an object of filter values")
    args: dict[str, list[str]] = {}
    for name, value in spec.items():
        if name not in FILTER_NAMES:
            continue  # unknown names are ignored, as in a query string
        items = value if isinstance(value, list) else [value]
        if len(items) > MAX_VALUES:
            raise BadParameter(name, f"at most {MAX_VALUES} values")
        if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in items) or (
                name in SINGLE_NAMES and len(items) != 1):
            raise BadParameter(name, "must be text or a list of text")
        args[str(name)] = [str(item) for item in items]
    return args


def _payload(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value if value is not None else {}


def _payload_fields(row: dict) -> dict:
    """The run's configuration: parsed when whole; cut (``payload_truncated``), the cut text."""
    shown = messages.fields("payload", row["payload"], row.get("payload_length"))
    if not shown["payload_truncated"]:
        shown["payload"] = _payload(row["payload"])
    return shown


def _int(value: Any) -> int | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else int(value)


def last_error_fields(text: object, length: object, details: bool) -> dict:
    """``last_error`` with its length and cut flag, as this reader may see it: a broker's refusal
    is replaced by its class (its own length then) unless ``details``."""
    shown = messages.fields("last_error", text, length)
    public = retry_error(shown["last_error"], details)
    if public != shown["last_error"]:
        shown = {"last_error": public, "last_error_length": len(public or ""), "last_error_truncated": False}
    return shown


def operation_record(row: dict, max_attempts: int, details: bool = False) -> dict:
    return {
        "id": int(row["sync_id"]),
        "crm_source": row["crm_source"],
        "name": display.crm_name(row["crm_source"]),
        "sync_type": row["operation_type"],
        "operation_type": row["operation_type"],  # deprecated name of sync_type, kept for one release
        "run_status": row["run_status"],
        "run_class": display.text(row.get("run_class")),
        "failed_at": display.iso_utc(row["failed_at"]),
        **messages.fields("error", row["error"], row.get("error_length")),
        **_payload_fields(row),
        "records_failed": display.count(row["records_failed"]),
        "state": row["state"],
        "attempts": int(row["attempts"]),
        "max_attempts": _int(row["max_attempts"]) or max_attempts,
        **last_error_fields(row["last_error"], row.get("last_error_length"), details),
        "task_id": display.text(row["task_id"]),
        "resolved_by_run": _int(row["resolved_by_run"]),
        **{column: display.iso_utc(row[column]) for column in queries.APP_TIMES},
    }


def operations_json(engine: Engine, f: OperationFilter, limit: int, max_attempts: int, details: bool = False) -> dict:
    """The operations matching ``f``; before ``db upgrade``, the runs alone with a ``note``;
    ``details``: an operator asks (a broker's refusal as it was)."""
    app_tables = queries.has_app_tables(engine)
    frame = queries.operations(engine, f, limit, app_tables)
    counts = queries.count_by_state(engine, f, app_tables)
    matching = sum(counts[s] for s in (f.states or STATES))
    return {
        "operations": [operation_record(row, max_attempts, details) for row in frame.to_dict("records")],
        "total": matching,
        "counts": counts,
        "max_attempts": max_attempts,
        **({} if app_tables else {"note": READ_ONLY_NOTE}),
    }


def _by_then(value: object, at: datetime) -> datetime | None:
    """A naive-UTC or aware time of the app's tables, when it is on or before ``at``, else None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    moment = pd.Timestamp(value)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment
    return moment.to_pydatetime() if moment <= at else None


def state_at(acted: dict, at: datetime, max_attempts: int) -> dict:
    """An operation's app columns as they were at ``at``, from its last attempt queued by then
    (``queries.failed_operations.attempts_at``): resolved or failed when that attempt had finished
    (abandoned when it was the last allowed), running when it had started, else queued."""
    cap = _int(acted.get("max_attempts")) or max_attempts
    attempts = int(acted["attempts"])
    queued, started, finished = (_by_then(acted.get(c), at) for c in ("queued_at", "started_at", "finished_at"))
    if finished is not None:
        resolved = acted["attempt_state"] == "resolved"
        state = "resolved" if resolved else ("abandoned" if attempts >= cap else "failed")
    else:
        state = "running" if started is not None else "queued"
    return {"state": state, "attempts": attempts, "max_attempts": cap, "task_id": acted.get("task_id"),
            "resolved_by_run": acted.get("run_id") if state == "resolved" else None,
            "last_error": acted.get("error") if finished is not None and state != "resolved" else None,
            "last_error_length": acted.get("error_length") if finished is not None and state != "resolved" else None,
            "queued_at": queued, "started_at": started, "finished_at": finished,
            "updated_at": finished or started or queued}


def _unacted(max_attempts: int) -> dict:
    return {"state": "failed", "attempts": 0, "max_attempts": max_attempts, "task_id": None, "resolved_by_run": None,
            "last_error": None, "last_error_length": None, "queued_at": None, "started_at": None,
            "finished_at": None, "updated_at": None}


def states_at(engine: Engine, at: datetime, max_attempts: int) -> dict[int, dict]:
    """Every operation acted on by ``at``: sync id -> its app columns then (``state_at``)."""
    if not queries.has_app_tables(engine):
        return {}
    return {int(row["sync_id"]): state_at(row, at, max_attempts)
            for row in queries.attempts_at(engine, at).to_dict("records")}


def operations_json_at(engine: Engine, f: OperationFilter, at: datetime, limit: int, max_attempts: int,
                       details: bool = False) -> dict:
    """``operations_json`` as of ``at`` (``f.ended_by`` = at): each operation in its state then."""
    from queries import failed_split

    unfiltered = replace(f, states=(), ended_by=at)
    acted = states_at(engine, at, max_attempts)
    retried = failed_split.retry_runs(engine) if acted else set()
    counts = dict.fromkeys(STATES, 0)
    total = failed_split.count_runs(engine, unfiltered)
    for chunk in _chunked(sorted(retried | set(acted))):
        for sync_id in failed_split._matching(engine, unfiltered, chunk):
            total -= 1
            if sync_id not in retried:
                counts[acted[sync_id]["state"]] += 1
    counts["failed"] += total
    wanted = f.states or STATES
    if "failed" in wanted:  # enough rows for ``limit`` records after the retried and acted ones are skipped
        frame = failed_split.runs(engine, unfiltered, min(queries.MAX_LIMIT, limit + len(retried) + len(acted)))
    else:
        ids = [i for i, state in acted.items() if state["state"] in wanted and i not in retried][:queries.MAX_LIMIT]
        frame = failed_split.runs(engine, replace(unfiltered, sync_ids=tuple(ids)), queries.MAX_LIMIT) if ids \
            else pd.DataFrame(columns=["sync_id"])
    records = []
    for row in frame.to_dict("records"):
        sync_id = int(row["sync_id"])
        if sync_id in retried:
            continue
        state = acted.get(sync_id) or _unacted(max_attempts)
        if state["state"] not in wanted:
            continue
        records.append(operation_record({**row, **state}, max_attempts, details))
        if len(records) >= limit:
            break
    return {"operations": records, "total": sum(counts[s] for s in wanted), "counts": counts,
            "max_attempts": max_attempts, "as_of": display.iso_utc(at), "as_of_note": AS_OF_NOTE,
            **({} if queries.has_app_tables(engine) else {"note": READ_ONLY_NOTE})}


def _chunked(ids: list[int], size: int = 1000) -> list[list[int]]:
    return [ids[n:n + size] for n in range(0, len(ids), size)]


def operation_json(engine: Engine, sync_id: int, max_attempts: int, details: bool = False) -> dict | None:
    """One operation (its texts cut to ``messages.MESSAGE_BOUND``), or None for no failed or
    partial run ``sync_id``."""
    frame = queries.operations(engine, OperationFilter(sync_ids=(sync_id,)), 1, queries.has_app_tables(engine),
                               bound=messages.MESSAGE_BOUND)
    return None if frame.empty else operation_record(frame.to_dict("records")[0], max_attempts, details)


def operation_json_at(engine: Engine, sync_id: int, at: datetime, max_attempts: int,
                      details: bool = False) -> dict | None:
    """``operation_json`` as of ``at``: None when the run had not failed by then."""
    from queries import failed_split

    frame = failed_split.runs(engine, OperationFilter(sync_ids=(sync_id,), ended_by=at), 1,
                              bound=messages.MESSAGE_BOUND)
    if frame.empty:
        return None
    acted = states_at(engine, at, max_attempts).get(sync_id) or _unacted(max_attempts)
    return operation_record({**frame.to_dict("records")[0], **acted}, max_attempts, details)


def attempts_at_json(engine: Engine, sync_id: int, at: datetime) -> list[dict]:
    """``attempts_json`` as of ``at``: the attempts queued by then, each in its state then."""
    shown = []
    for attempt in attempts_json(engine, sync_id):
        if display.from_iso(attempt["queued_at"]) > at:
            continue
        started, finished = (attempt[c] and display.from_iso(attempt[c]) <= at for c in ("started_at", "finished_at"))
        if not finished:
            attempt = {**attempt, "state": "running" if started else "queued", "finished_at": None, "error": None,
                       "error_length": None, "error_truncated": False, "run_id": None,
                       "started_at": attempt["started_at"] if started else None}
        shown.append(attempt)
    return shown


def attempts_json(engine: Engine, sync_id: int) -> list[dict]:
    if not queries.has_app_tables(engine):
        return []
    return [{
        "attempt": int(row["attempt"]), "state": row["state"], "requested_by": row["requested_by"],
        "task_id": row["task_id"], "task_name": row["task_name"], "run_id": _int(row["run_id"]),
        **messages.fields("error", row["error"], row.get("error_length")),
        **{c: display.iso_utc(row[c]) for c in ("queued_at", "started_at", "finished_at")},
    } for row in queries.attempts(engine, sync_id).to_dict("records")]


def audit_json(engine: Engine, limit: int = 50) -> list[dict]:
    if not queries.has_app_tables(engine):
        return []
    return [{
        "id": int(row["id"]), "at": display.iso_utc(row["at"]), "actor": row["actor"], "role": row["role"],
        "action": row["action"], **messages.fields("target", row["target"], row.get("target_length")),
        "operations": int(row["operations"]), "result": row["result"],
        **messages.fields("detail", row["detail"], row.get("detail_length")), "source": row["source"],
        "repeats": int(row["repeats"]),
    } for row in queries.audit(engine, limit).to_dict("records")]


def retryable(f: OperationFilter) -> OperationFilter | None:
    """The operations of ``f`` a retry can queue (state failed); None when its states exclude them."""
    if f.states and "failed" not in f.states:
        return None
    return replace(f, states=("failed",))


def describe_ids(sync_ids: list[int]) -> str:
    """Operation ids for the audit: ``operations 12, 15`` (the first 50, then ``...``)."""
    return "operations " + ", ".join(str(i) for i in sync_ids[:50]) + (" ..." if len(sync_ids) > 50 else "")


def describe(f: OperationFilter) -> str:
    """A filter in words, for the audit: ``crm_source=hubspot; state=failed; since 2026-11-16 10:00 UTC``
    (a window with an end: ``from 2026-11-16 10:00 to 2026-11-17 10:00 UTC``)."""
    parts = [f"{name}={','.join(chosen)}" for name, chosen in
             (("crm_source", f.crm_sources), ("sync_type", f.sync_types), ("state", f.states)) if chosen]
    parts.append(_window_words(f.since, f.until))
    return "; ".join(parts)


def _window_words(since: datetime | None, until: datetime | None) -> str:
    if until is None:
        return f"since {since:%Y-%m-%d %H:%M} UTC" if since else "any time"
    return f"from {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC" if since else \
        f"before {until:%Y-%m-%d %H:%M} UTC"
