"""The failed-operations console when the app's tables live in a database of their own
(MONITOR_DATABASE_URL): the join of failed runs with their ``failed_operations`` rows and the
exclusion of runs that retries recorded happen here, in the app, a page at a time.

Two ways to walk, whichever is bounded by the smaller side:
- a state filter that includes ``failed`` (or none): pages of failed or partial runs from the
  warehouse (newest first, by (start_time, id)), each page's operation rows looked up by id;
- only acted-on states (queued, running, resolved, abandoned): pages of ``failed_operations``
  rows in those states, each page's runs looked up by id (with the run filters) in the warehouse.
Counts per state: the warehouse's count of matching runs, less the retries' own runs and the
acted-on operations that match, which are looked up by id in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pandas as pd

from queries import outcomes, scope
from queries._sql import Binds, Connectable, app_db, app_table, app_times, connect, table
from queries.as_of import ended_after
from queries.messages import ROW_BOUND, cut, cut_text

PAGE = 500
CHUNK = 1000  # ids in one IN list
_RUN_COLUMNS = ("sync_id", "crm_source", "operation_type", "run_status", "run_class", "failed_at", "error",
                "error_length", "payload", "payload_length", "records_failed")
_OPERATION_COLUMNS = ("state", "attempts", "max_attempts", "last_error", "last_error_length", "task_id",
                      "resolved_by_run", "queued_at", "started_at", "finished_at", "updated_at")


def operation_runs(b: Binds, f) -> list[str]:
    """The failed or partial runs of ``sync_history h`` that ``f`` selects (its states aside); as of
    a moment (``f.ended_by``), those that had failed by then: started before it and ended by it (a
    failed run that never closed, by its start)."""
    ended_by = getattr(f, "ended_by", None)
    end = f.until if ended_by is None else (ended_by if f.until is None else min(f.until, ended_by))
    where = scope.runs(b, start=f.since, end=end, crm_sources=f.crm_sources, sync_types=f.sync_types,
                       classes=("failed", "partial"), ids=f.sync_ids, alias="h.")
    if ended_by is not None:
        where.append(f"(h.end_time <= {b.bind(ended_by)} OR h.end_time IS NULL)")
    return where


def _run_where(b: Binds, f, after: tuple[datetime, int] | None, newest_first: bool) -> str:
    where = operation_runs(b, f)
    if after is not None:
        moment, last_id = after
        op = "<" if newest_first else ">"
        at = b.bind(moment)
        where.append(f"(h.start_time {op} {at} OR (h.start_time = {at} AND h.id {op} {int(last_id)}))")
    return " AND ".join(where)


def runs(db: Connectable, f, limit: int, after: tuple[datetime, int] | None = None,
         newest_first: bool = True, bound: int = ROW_BOUND) -> pd.DataFrame:
    """Failed or partial runs matching ``f`` (its states ignored), a page from ``after``; error
    and payload cut to ``bound`` characters (``queries.messages``)."""
    order = "DESC" if newest_first else "ASC"
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT h.id AS sync_id, h.crm_source, h.sync_type AS operation_type, h.status AS run_status,
                   {outcomes.class_case(conn, "h.status")} AS run_class,
                   h.start_time AS failed_at, {cut("h.error_message", "error", bound)},
                   {cut_text("h.configuration", "payload", bound)}, h.records_failed
            FROM {table(conn, 'sync_history')} h WHERE {_run_where(b, f, after, newest_first)}
            ORDER BY h.start_time {order}, h.id {order} LIMIT {int(limit)}""", times=("failed_at",))


def count_runs(db: Connectable, f) -> int:
    """How many failed or partial runs match ``f``: from the run rollups for whole hours when
    they exist (and ``f`` names no ids), else one count over the raw table. As of a moment
    (``f.ended_by``): the rollups' count up to it less the runs that ended after it
    (``queries.as_of.ended_after``)."""
    from queries import run_rollups

    covered = None if f.sync_ids else run_rollups.ready(db)
    if covered is not None:
        ended_by = getattr(f, "ended_by", None)
        until = f.until if ended_by is None else (ended_by if f.until is None else min(f.until, ended_by))
        rows = run_rollups.run_rows(db, f.since, until, covered, f.crm_sources, f.sync_types, ("failed", "partial"))
        found = int(rows["runs"].sum()) if not rows.empty else 0
        if ended_by is None:
            return found
        # as of a moment: a run that ended after it had not failed yet (the rollups hold its stored status)
        return found - ended_after(db, ended_by, f.since, until, f.crm_sources, f.sync_types, ("failed", "partial"))
    with connect(db) as conn:
        b = Binds(conn)
        where = _run_where(b, f, None, True)
        frame = b.frame(f"SELECT COUNT(*) AS n FROM {table(conn, 'sync_history')} h WHERE {where}")
    return int(frame["n"].iloc[0])


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def operation_rows(db: Connectable, sync_ids: list[int], bound: int = ROW_BOUND) -> pd.DataFrame:
    """The ``failed_operations`` rows of ``sync_ids`` (from the app's database), last_error cut to
    ``bound`` characters."""
    frames = []
    with connect(app_db(db)) as conn:
        for chunk in _chunks(sync_ids):
            b = Binds(conn)
            frames.append(b.frame(f"""
                SELECT sync_id, state, attempts, max_attempts, {cut("last_error", "last_error", bound)},
                       task_id, resolved_by_run,
                       queued_at, started_at, finished_at, updated_at
                FROM {app_table(conn, 'failed_operations')}
                WHERE sync_id IN ({', '.join(str(int(i)) for i in chunk)})"""))
    return pd.concat(frames) if frames else pd.DataFrame(columns=["sync_id", *_OPERATION_COLUMNS])


def retry_runs(db: Connectable, sync_ids: list[int] | None = None) -> set[int]:
    """The runs that retries recorded (``operation_attempts.run_id``), among ``sync_ids`` or all."""
    found: set[int] = set()
    with connect(app_db(db)) as conn:
        t = app_table(conn, "operation_attempts")
        if sync_ids is None:
            b = Binds(conn)
            found.update(int(i) for i in b.frame(f"SELECT DISTINCT run_id FROM {t} WHERE run_id IS NOT NULL")["run_id"])
            return found
        for chunk in _chunks(sync_ids):
            b = Binds(conn)
            found.update(int(i) for i in b.frame(
                f"SELECT run_id FROM {t} WHERE run_id IN ({', '.join(str(int(i)) for i in chunk)})")["run_id"])
    return found


def _joined(db: Connectable, page: pd.DataFrame, bound: int = ROW_BOUND) -> pd.DataFrame:
    """``page`` of runs without the retries' own runs, with its operation rows (state failed,
    0 attempts where there is none)."""
    ids = [int(i) for i in page["sync_id"]]
    retried = retry_runs(db, ids)
    page = page[~page["sync_id"].isin(retried)]
    ops = operation_rows(db, ids, bound)
    merged = page.merge(ops.astype({"sync_id": "int64"}), on="sync_id", how="left") if not page.empty else \
        page.assign(**{c: None for c in _OPERATION_COLUMNS})
    merged["state"] = merged["state"].fillna("failed")
    merged["attempts"] = merged["attempts"].fillna(0).astype("int64")
    return merged


def operations(db: Connectable, f, limit: int, newest_first: bool = True, bound: int = ROW_BOUND) -> pd.DataFrame:
    """What ``queries.failed_operations.operations`` answers, joined in the app."""
    states = set(f.states)
    if states and "failed" not in states:
        frame = _from_operations(db, f, limit, newest_first, bound)
    else:
        parts, after, total = [], None, 0
        while total < limit:
            page = runs(db, f, PAGE, after, newest_first, bound)
            if page.empty:
                break
            joined = _joined(db, page, bound)
            if states:
                joined = joined[joined["state"].isin(states)]
            parts.append(joined)
            total += len(joined)
            last = page.iloc[-1]
            after = (last["failed_at"].to_pydatetime(), int(last["sync_id"]))
            if len(page) < PAGE:
                break
        frame = pd.concat(parts) if parts else _joined(db, runs(db, f, 0), bound)
    frame = frame.head(limit)
    return app_times(frame.reset_index(drop=True), ("queued_at", "started_at", "finished_at", "updated_at"))


def _from_operations(db: Connectable, f, limit: int, newest_first: bool, bound: int) -> pd.DataFrame:
    """Walk the acted-on operations in ``f.states`` (app database), each page's runs looked up."""
    order = "DESC" if newest_first else "ASC"
    parts, offset, total = [], 0, 0
    while total < limit:
        with connect(app_db(db)) as conn:
            b = Binds(conn)
            where = [b.in_list("state", tuple(f.states))]
            if f.sync_ids:
                where.append(f"sync_id IN ({', '.join(str(int(i)) for i in f.sync_ids)})")
            ids = [int(i) for i in b.frame(
                f"SELECT sync_id FROM {app_table(conn, 'failed_operations')} WHERE {' AND '.join(where)}"
                f" ORDER BY failed_at {order}, sync_id {order} LIMIT {PAGE} OFFSET {offset}")["sync_id"]]
        if not ids:
            break
        page = runs(db, replace(f, sync_ids=tuple(ids), states=()), len(ids), None, newest_first, bound)
        joined = _joined(db, page, bound)
        joined = joined[joined["state"].isin(f.states)]
        parts.append(joined)
        total += len(joined)
        offset += PAGE
        if len(ids) < PAGE:
            break
    if not parts:
        return _joined(db, runs(db, f, 0), bound)
    frame = pd.concat(parts)
    return frame.sort_values(["failed_at", "sync_id"], ascending=not newest_first)


def count_by_state(db: Connectable, f, states: tuple[str, ...]) -> dict[str, int]:
    """Operations matching ``f`` per state: the warehouse's count of matching runs, less the
    retries' own runs among them, split by the acted-on operations' states."""
    unfiltered = replace(f, states=())
    counts = dict.fromkeys(states, 0)
    total = count_runs(db, unfiltered)
    retried = sorted(retry_runs(db))
    total -= sum(len(_matching(db, unfiltered, chunk)) for chunk in _chunks(retried))
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        acted = b.frame(f"SELECT sync_id, state FROM {app_table(conn, 'failed_operations')} WHERE state <> 'failed'")
    by_id = dict(zip((int(i) for i in acted["sync_id"]), acted["state"], strict=True))
    acted_ids = sorted(set(by_id) - set(retried))
    for chunk in _chunks(acted_ids):
        for sync_id in _matching(db, unfiltered, chunk):
            counts[str(by_id[sync_id])] = counts.get(str(by_id[sync_id]), 0) + 1
            total -= 1
    counts["failed"] = total
    return counts


def _matching(db: Connectable, f, ids: list[int]) -> list[int]:
    """Which of ``ids`` are failed or partial runs matching ``f``."""
    if f.sync_ids:
        ids = [i for i in ids if i in set(f.sync_ids)]
    if not ids:
        return []
    frame = runs(db, replace(f, sync_ids=tuple(ids), states=()), len(ids))
    return [int(i) for i in frame["sync_id"]]
