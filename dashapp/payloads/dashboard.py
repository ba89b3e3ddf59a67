"""The numbers behind the overview, as the JSON the API serves and the page renders.

Each function runs the query functions from ``queries/`` and shapes their DataFrames into the
structures of docs/json-api.md. The page feeds the same records to its cards and
grid, so the screen and ``/api/...`` cannot disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from dashapp import display
from dashapp.payloads import paths
from dashapp.payloads.day_cache import DayCache, day_start
from dashapp.payloads.params import to_search
from dashapp.payloads.result_cache import shared
from dashapp.payloads.runs import progress_json
from queries import errors, freshness, messages, performance, run_detail, run_rollups, table_shape
from queries.crm_status import sync_states
from queries.outcomes import SUCCESS_RATE_HELP
from queries.overview import overview_counts
from queries.recent_runs import recent_runs
from queries.recent_syncs import recent_syncs

DAYS = DayCache()  # closed days of the performance aggregates


@shared("stats")
def stats(engine: Engine, now: datetime) -> dict:
    return {"overview": overview_counts(engine, now).as_dict(), "timestamp": display.iso_utc(now)}


STRIP_RUNS = 30  # the ticks of a sync's latest runs on the overview
DEFAULT_LIMIT, MAX_LIMIT = 200, 1000  # CRMs per page of /api/crm-status
# worst first: a CRM collapsed to one row shows the status of its worst sync type
WORST_FIRST = ("failed", "partial", None, "running", "success")


def _type_record(row: dict) -> dict:
    ran = row.get("id") is not None and row["id"] == row["id"]
    return {
        "sync_type": row["sync_type"],
        "id": int(row["id"]) if ran else None,
        "last_sync": row["start_iso"] if ran else None,
        "status": display.text(row["status"]) if ran else None,
        "status_class": display.text(row["status_class"]) if ran else None,
        **_counts(row),
        "duration_seconds": display.seconds(row["duration_seconds"]) if ran else None,
        **messages.fields("error_message", row["error_message"] if ran else None, row.get("error_message_length")),
        "state": row["state"],
        "state_label": freshness.LABELS[row["state"]],
        "state_reason": display.text(row["state_reason"]),
        "expected_at": row["expected_iso"],
        "overdue_seconds": round(float(row["overdue_seconds"]), 1),
        "next_sync": row["next_iso"],
        "next_sync_source": display.text(row["next_sync_source"]),
        "next_sync_note": display.text(row["next_sync_note"]),
    }


def _crm_record(crm: str, types: list[dict]) -> dict:
    """One CRM as the operators' scripts expect it (its most recent run, its soonest next sync)
    with every sync type's latest run under ``sync_types``, and its state: its worst type's."""
    newest = max(types, key=lambda t: (t["last_sync"] or "", t["id"] or 0))
    timed = [t for t in types if t["next_sync"]]
    soonest = min(timed, key=lambda t: t["next_sync"]) if timed else types[0]
    worst = min(types, key=lambda t: WORST_FIRST.index(t["status_class"]))
    worst_state = min(types, key=lambda t: (freshness.STATES.index(t["state"]), -t["overdue_seconds"]))
    return {
        "name": display.crm_name(crm),
        "crm_source": crm,
        "state": worst_state["state"],
        "state_label": worst_state["state_label"],
        "state_reason": (worst_state["state_reason"] if len(types) == 1
                         else f"{worst_state['sync_type']}: {worst_state['state_reason']}"),
        "expected_at": worst_state["expected_at"],
        "overdue_seconds": worst_state["overdue_seconds"],
        **{k: newest[k] for k in ("sync_type", "last_sync", "status", "status_class", "records_processed",
                                  "records_created", "records_updated", "records_failed", "duration_seconds")},
        **{k: newest[k] for k in PROGRESS if k in newest},
        "next_sync": soonest["next_sync"],
        "next_sync_source": soonest["next_sync_source"],
        "next_sync_note": soonest["next_sync_note"],
        "worst_status": worst["status"],
        "worst_status_class": worst["status_class"],
        "sync_types": sorted(types, key=lambda t: (freshness.STATES.index(t["state"]), t["sync_type"])),
    }


PROGRESS = ("expected_seconds", "expected_p95_seconds", "eta", "progress_percent", "overdue")


def _with_progress(engine: Engine, records: list[dict], now: datetime) -> None:
    """A running type's expected duration (median of its last 20 successes), ETA, progress and
    ``overdue`` (past their p95), from one statement over the running pairs."""
    running = [(r["crm_source"], r["sync_type"]) for r in records if r["status_class"] == "running"]
    expected = {}
    for chunk in range(0, len(running), run_detail.MAX_PAIRS):
        expected.update({(e["crm_source"], e["sync_type"]): e for e in run_detail.expected_durations(
            engine, running[chunk:chunk + run_detail.MAX_PAIRS]).to_dict("records")})
    for record in records:
        if record["status_class"] == "running":
            run = {"status_class": "running", "start_time": record["last_sync"],
                   "duration_seconds": record["duration_seconds"]}
            progress = progress_json(run, expected.get((record["crm_source"], record["sync_type"])), now)
            record.update({k: progress[k] for k in PROGRESS})


@shared("crm_status")
def all_crm_statuses(engine: Engine, now: datetime) -> dict:
    """Every CRM, each with ``sync_types``, problems first (late, failing, ..., then by name);
    running ones carry ``expected_seconds``, ``eta``, ``progress_percent`` and ``overdue``."""
    records = [{**_type_record({**row, "start_iso": _iso(row["start_time"]), "expected_iso": _iso(row["expected_at"]),
                                "next_iso": _iso(row["next_sync"])}), "crm_source": row["crm_source"]}
               for row in sync_states(engine, now)]
    _with_progress(engine, records, now)
    by_crm: dict[str, list[dict]] = {}
    for record in records:
        by_crm.setdefault(record.pop("crm_source"), []).append(record)
    crms = [_crm_record(crm, types) for crm, types in by_crm.items()]
    crms.sort(key=lambda c: (freshness.STATES.index(c["state"]), -c["overdue_seconds"], c["name"].lower(),
                             c["crm_source"]))
    return {"crms": crms}


def _iso(moment: object) -> str | None:
    """An aware time (datetime or Timestamp) as ISO 8601 UTC with a Z; None for none (NaT too)."""
    if moment is None or moment != moment or not isinstance(moment, datetime):
        return None
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"  # four digits from year 1 on


def crm_statuses(engine: Engine, now: datetime, state: str | None = None, search: str = "",
                 limit: int = DEFAULT_LIMIT, offset: int = 0, strip: int = STRIP_RUNS, details: bool = True) -> dict:
    """``/api/crm-status``: a page of CRMs, problems first; ``state`` keeps the CRMs with a sync
    in that state, ``search`` those whose name, source or a sync type holds it (any case).
    ``total`` counts the CRMs that match, ``states`` every CRM by its state. Each sync type of
    the page carries ``recent_runs``: its latest ``strip`` runs, newest first. Without ``details``
    (anyone but an operator) a note does not name the role and tables beat's GRANT needs."""
    crms = all_crm_statuses(engine, now)["crms"]
    counts = {name: 0 for name in freshness.STATES}
    for crm in crms:
        counts[crm["state"]] += 1
    needle = search.strip().casefold()
    matching = [c for c in crms
                if (state is None or any(t["state"] == state for t in c["sync_types"]))
                and (not needle or needle in c["name"].casefold() or needle in c["crm_source"].casefold()
                     or any(needle in str(t["sync_type"]).casefold() for t in c["sync_types"]))]
    page = [{**c, "sync_types": [dict(t) for t in c["sync_types"]]} for c in matching[offset:offset + limit]]
    if not details:
        found = table_shape.shape(engine)
        for entry in (e for c in page for e in (c, *c["sync_types"])):
            for key in ("next_sync_note", "state_reason"):
                entry[key] = table_shape.without_grant(entry.get(key), found)
    if strip > 0:
        pairs = [(c["crm_source"], t["sync_type"]) for c in page for t in c["sync_types"]]
        ticks: dict[tuple[str, str], list[dict]] = {}
        for row in recent_runs(engine, pairs, strip, now).to_dict("records"):
            ticks.setdefault((row["crm_source"], row["sync_type"]), []).append(
                {"id": int(row["id"]), "status": display.text(row["status"]),
                 "status_class": display.text(row["status_class"]), "start_time": display.iso_utc(row["start_time"])})
        for crm in page:
            for sync in crm["sync_types"]:
                sync["recent_runs"] = ticks.get((crm["crm_source"], sync["sync_type"]), [])
    return {"crms": page, "total": len(matching), "offset": offset, "limit": limit, "states": counts,
            "timestamp": display.iso_utc(now)}


def _counts(row: dict) -> dict:
    return {name: display.count(row[name])
            for name in ("records_processed", "records_created", "records_updated", "records_failed")}


def run_record(row: dict, error_column: str = "error_message") -> dict:
    """One run as the JSON and the grids carry it (``error_column``: the message or an excerpt)."""
    return {
        "id": int(row["id"]),
        "crm_source": row["crm_source"],
        "sync_type": row["sync_type"],
        "status": display.text(row["status"]),
        "status_class": display.text(row.get("status_class")),
        "start_time": display.iso_utc(row["start_time"]),
        "end_time": display.iso_utc(row["end_time"]),
        "duration_seconds": display.seconds(row["duration_seconds"]),
        **_counts(row),
        **messages.fields("error_message", row[error_column], row.get(f"{error_column}_length")),
    }


@shared("recent_syncs")
def recent(engine: Engine, limit: int, now: datetime) -> dict:
    syncs = [run_record(row) for row in recent_syncs(engine, limit, now).to_dict("records")]
    return {"syncs": syncs, "total": len(syncs)}


def window_days(days: int, now: datetime) -> list:
    """The ``days`` calendar days (UTC) ending today."""
    today = now.date()
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def performance_frames(engine: Engine, days: int, now: datetime, crm_sources=(), sync_types=()) -> dict:
    """The performance page's DataFrames for the last ``days`` calendar days (UTC, today
    included): from the run rollups for whole hours and the raw table for the open edge when
    they exist (``queries.run_rollups``), else two SQL statements over the days not already in
    the closed-day cache."""
    selection = (tuple(sorted(crm_sources)), tuple(sorted(sync_types)))
    covered = run_rollups.ready(engine)
    if covered is not None:
        start = day_start(window_days(days, now)[0])
        daily, durations = run_rollups.daily_rows(engine, start, now, covered, *selection, durations=True)
        return _performance_from(daily, run_rollups.daily_percentiles_from(durations))

    def compute(start: datetime, end: datetime) -> dict:
        return {
            "rollup": performance.daily_rollup(engine, start, end, *selection),
            "percentiles": performance.daily_percentiles(engine, start, end, *selection),
        }

    key = (engine.url.render_as_string(), engine.get_execution_options().get("sync_schema"), selection)
    parts = DAYS.frames(key, window_days(days, now), now, compute)
    return _performance_from(parts["rollup"], parts["percentiles"])


def _performance_from(rollup: pd.DataFrame, percentiles: pd.DataFrame) -> dict:
    overall = percentiles["crm_source"] == performance.ALL
    return {
        "duration_by_crm": percentiles[~overall].reset_index(drop=True),
        "duration_overall": percentiles[overall].reset_index(drop=True),
        "records_by_crm": performance.records_by_crm_from(rollup),
        "success_rate": performance.success_rate_from(rollup),
        "runs_per_day": performance.runs_per_day_from(rollup),
        "throughput": performance.throughput_from(rollup),
    }


@shared("performance")
def performance_tables(engine: Engine, days: int, now: datetime, crm_sources=(), sync_types=()) -> dict:
    """``performance_frames`` as plain tables ({columns, data}), so viewers share them (callers pass
    the selections sorted, so the cache key does not depend on their order)."""
    frames = performance_frames(engine, days, now, crm_sources, sync_types)
    return {name: frame.to_dict(orient="split", index=False) for name, frame in frames.items()}


def shared_performance_frames(engine: Engine, days: int, now: datetime, crm_sources=(), sync_types=()) -> dict:
    """The performance page's DataFrames, through the shared cache."""
    tables = performance_tables(engine, days, now, tuple(sorted(crm_sources)), tuple(sorted(sync_types)))
    return {name: pd.DataFrame(table["data"], columns=table["columns"]) for name, table in tables.items()}


def _floats(series) -> list[float | None]:
    return [None if v is None or v != v else round(float(v), 3) for v in series]


def performance_charts(frames: dict) -> dict:
    """The JSON of /api/performance-charts: the reference's four series, then the page's detail."""
    overall, by_crm = frames["duration_overall"], frames["duration_by_crm"]
    records, rate = frames["records_by_crm"], frames["success_rate"]
    runs, speed = frames["runs_per_day"], frames["throughput"]
    per_day = runs.groupby("day", sort=True)["runs"].sum()
    return {
        "sync_duration_trend": {"labels": list(overall["day"]), "data": _floats(overall["p50"]),
                                "p95": _floats(overall["p95"])},
        "records_by_crm": {"labels": [display.crm_name(c) for c in records["crm_source"]],
                           "data": [int(v) for v in records["records"]]},
        "success_rate_trend": {"labels": list(rate["day"]), "data": _floats(rate["success_rate"]),
                               "partial_rate": _floats(rate["partial_rate"]) if "partial_rate" in rate else [],
                               "definition": SUCCESS_RATE_HELP},
        "sync_frequency": {"labels": [str(d) for d in per_day.index], "data": [int(v) for v in per_day]},
        "duration_by_crm": [
            {"day": r["day"], "crm_source": r["crm_source"], "p50_seconds": _floats([r["p50"]])[0],
             "p95_seconds": _floats([r["p95"]])[0], "runs": int(r["runs"])} for r in by_crm.to_dict("records")],
        "runs_per_day_by_crm": [
            {"day": r["day"], "crm_source": r["crm_source"], "runs": int(r["runs"])} for r in runs.to_dict("records")],
        "throughput": [
            {"crm_source": r["crm_source"], "sync_type": r["sync_type"],
             "records_per_second": _floats([r["records_per_second"]])[0], "runs": int(r["runs"])}
            for r in speed.to_dict("records")],
    }


def errors_frames(engine: Engine, days: int, now: datetime) -> dict:
    """The errors page's DataFrames for the last ``days`` calendar days (UTC, today included),
    from the rollups for whole hours when they exist."""
    covered = run_rollups.ready(engine)
    if covered is not None:
        start = day_start(window_days(days, now)[0])
        daily = run_rollups.daily_rows(engine, start, now, covered, by=("crm_source",))[0]
        return {"recent": errors.recent_failures(engine, 10),
                "classes": errors.classes_from(run_rollups.error_messages(engine, start, now, covered)),
                "rates": errors.failure_rates_from(daily)}

    def compute(start: datetime, end: datetime) -> dict:
        return {"rollup": performance.daily_rollup(engine, start, end),
                "messages": errors.daily_messages(engine, start, end)}

    key = (engine.url.render_as_string(), engine.get_execution_options().get("sync_schema"), "errors")
    parts = DAYS.frames(key, window_days(days, now), now, compute)
    return {
        "recent": errors.recent_failures(engine, 10),
        "classes": errors.classes_from(parts["messages"]),
        "rates": errors.failure_rates_from(parts["rollup"]),
    }


@shared("errors")
def errors_payload(engine: Engine, days: int, now: datetime) -> dict:
    """The JSON of /api/errors for the last ``days`` calendar days, shared between viewers."""
    return errors_json(errors_frames(engine, days, now), day_start(window_days(days, now)[0]), now)


def history_link(search: str, start: datetime, end: datetime) -> str:
    """The history filtered to the failed and partial runs whose message contains ``search`` in the
    window: the runs an error class counts."""
    return paths.history(to_search({"status": ["failed", "partial"], "q": search, "start": display.iso_utc(start),
                                    "end": display.iso_utc(end), "range": "all"}))


def errors_json(frames: dict, start: datetime, end: datetime) -> dict:
    """The JSON of /api/errors and the records the errors page renders."""
    return {
        "recent_failures": [
            {"id": int(r["id"]), "crm_source": r["crm_source"], "name": display.crm_name(r["crm_source"]),
             "sync_type": r["sync_type"], "status": display.text(r["status"]),
             "status_class": display.text(r["status_class"]), "start_time": display.iso_utc(r["start_time"]),
             "end_time": display.iso_utc(r["end_time"]),
             **messages.fields("error_message", r["error_message"], r.get("error_message_length"))}
            for r in frames["recent"].to_dict("records")],
        "error_classes": [
            {"error_class": r["error_class"], "count": int(r["runs"]), "failed": int(r["failed"]),
             "partial": int(r["partial"]), "sample": r["sample"],
             "last_seen": display.iso_utc(r["last_seen"]), "history_link": history_link(r["search"], start, end)}
            for r in frames["classes"].to_dict("records")],
        "crm_failure_rates": [
            {"crm_source": r["crm_source"], "name": display.crm_name(r["crm_source"]), "finished": int(r["finished"]),
             "failed": int(r["failed"]), "partial": int(r["partial"]), "failure_rate": float(r["failure_rate"]),
             "partial_rate": float(r["partial_rate"])}
            for r in frames["rates"].to_dict("records")],
        "start": display.iso_utc(start),
        "end": display.iso_utc(end),
    }
