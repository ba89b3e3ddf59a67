"""The failed-operations console's SQL: failed and partial runs of ``sync_history`` joined with the
app's own record of each (``failed_operations``), their retry attempts, and the audit log.

A run nobody acted on has no ``failed_operations`` row and reads as state ``failed`` with no
attempts. Before ``db upgrade`` (or on a read-only warehouse) the same functions read the runs
alone (``app_tables=False``): every run is state ``failed`` with no attempts. Runs that a retry
recorded (``operation_attempts.run_id``) are not operations of their own: their outcome shows on
the operation they retried. Times in the app's tables are naive UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from queries import failed_split, outcomes, run_rollups
from queries._sql import (
    Binds,
    Connectable,
    app_db,
    app_table,
    app_tables_exist,
    app_times,
    connect,
    separate_app_db,
    table,
)
from queries.bad_parameter import FilterError
from queries.messages import LIST_BOUND, ROW_BOUND, cut, cut_text

STATES = ("failed", "queued", "running", "resolved", "abandoned")
APP_TIMES = ("queued_at", "started_at", "finished_at", "updated_at")
MAX_LIMIT = 5000


@dataclass(frozen=True)
class OperationFilter:
    """Which operations: failed or partial runs started in [``since``, ``until``) (None: open), of
    these CRMs and sync types (the runs' ``sync_type``, kept as ``operation_type`` in the app's table)."""

    since: datetime | None = None
    crm_sources: tuple[str, ...] = ()
    sync_types: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    sync_ids: tuple[int, ...] = ()
    until: datetime | None = None
    ended_by: datetime | None = None  # as of a moment: only runs that had failed by then (aware UTC)

    def __post_init__(self) -> None:
        unknown = [s for s in self.states if s not in STATES]
        if unknown:
            raise FilterError(f"state: {unknown[0][:40]!r} is not one of {', '.join(STATES)}")


def has_app_tables(db: Connectable) -> bool:
    return app_tables_exist(db, "failed_operations")


def _from_where(b: Binds, f: OperationFilter, with_state: bool = True, app_tables: bool = True) -> str:
    conn = b.conn
    where = failed_split.operation_runs(b, f)
    if app_tables:
        where.append(f"NOT EXISTS (SELECT 1 FROM {app_table(conn, 'operation_attempts')} a WHERE a.run_id = h.id)")
    if with_state and f.states:
        where.append(b.in_list(_state(app_tables), f.states))
    joined = f" LEFT JOIN {app_table(conn, 'failed_operations')} o ON o.sync_id = h.id" if app_tables else ""
    return f"FROM {table(conn, 'sync_history')} h{joined} WHERE " + " AND ".join(where)


def _state(app_tables: bool) -> str:
    return "COALESCE(o.state, 'failed')" if app_tables else "'failed'"


_OPERATION_COLUMNS = ("o.max_attempts", "o.task_id", "o.resolved_by_run", "o.queued_at",
                      "o.started_at", "o.finished_at", "o.updated_at")


def _app_columns(app_tables: bool, bound: int) -> str:
    if app_tables:
        return ("COALESCE(o.attempts, 0) AS attempts, " + ", ".join(_OPERATION_COLUMNS)
                + ", " + cut("o.last_error", "last_error", bound))
    return ("0 AS attempts, " + ", ".join(f"NULL AS {c[2:]}" for c in _OPERATION_COLUMNS)
            + ", NULL AS last_error, NULL AS last_error_length")


def operations(db: Connectable, f: OperationFilter, limit: int = 500, app_tables: bool = True,
               bound: int = ROW_BOUND) -> pd.DataFrame:
    """The newest ``limit`` operations matching ``f``, one row each with the run's details and
    the app's state: sync_id, crm_source, operation_type, run_status (raw) and run_class,
    failed_at, error, payload, records_failed, state, attempts, max_attempts, last_error, task_id
    and the attempt times. The texts error, payload (the configuration's JSON text) and last_error
    are cut in SQL to ``bound`` characters, each with its full length (``error_length``, ...:
    ``queries.messages``). With the app's tables in their own database, joined in the app."""
    if app_tables and separate_app_db(db):
        return failed_split.operations(db, f, max(1, min(int(limit), MAX_LIMIT)), bound=bound)
    with connect(db) as conn:
        b = Binds(conn)
        frame = b.frame(f"""
            SELECT h.id AS sync_id, h.crm_source, h.sync_type AS operation_type, h.status AS run_status,
                   {outcomes.class_case(conn, "h.status")} AS run_class,
                   h.start_time AS failed_at, {cut("h.error_message", "error", bound)},
                   {cut_text("h.configuration", "payload", bound)},
                   h.records_failed, {_state(app_tables)} AS state, {_app_columns(app_tables, bound)}
            {_from_where(b, f, True, app_tables)}
            ORDER BY h.start_time DESC, h.id DESC LIMIT {max(1, min(int(limit), MAX_LIMIT))}""",
            times=("failed_at",))
    return app_times(frame, APP_TIMES)


def count_by_state(db: Connectable, f: OperationFilter, app_tables: bool = True) -> dict[str, int]:
    """How many operations match ``f`` (its states ignored), per state; every state present."""
    if app_tables and (separate_app_db(db) or (not f.sync_ids and run_rollups.ready(db) is not None)):
        return failed_split.count_by_state(db, f, STATES)  # the runs counted by the rollups
    with connect(db) as conn:
        b = Binds(conn)
        frame = b.frame(f"SELECT {_state(app_tables)} AS state, COUNT(*) AS n {_from_where(b, f, False, app_tables)}"
                        " GROUP BY 1")
    counts = dict.fromkeys(STATES, 0)
    counts.update({str(s): int(n) for s, n in zip(frame["state"], frame["n"], strict=True)})
    return counts


def matching_ids(db: Connectable, f: OperationFilter, limit: int) -> list[int]:
    """The sync ids of up to ``limit`` operations matching ``f``, oldest first."""
    if separate_app_db(db):
        return [int(i) for i in failed_split.operations(db, f, limit, newest_first=False)["sync_id"]]
    with connect(db) as conn:
        b = Binds(conn)
        frame = b.frame(f"SELECT h.id {_from_where(b, f)} ORDER BY h.start_time, h.id LIMIT {int(limit)}")
    return [int(i) for i in frame["id"]]


def attempts(db: Connectable, sync_id: int, bound: int = LIST_BOUND) -> pd.DataFrame:
    """The retry attempts of one operation, first to last, each error cut to ``bound`` characters
    (with ``error_length``)."""
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        frame = b.frame(f"""
            SELECT attempt, state, requested_by, task_id, task_name, run_id, {cut("error", "error", bound)},
                   queued_at, started_at, finished_at
            FROM {app_table(conn, 'operation_attempts')} WHERE sync_id = {b.bind(int(sync_id))}
            ORDER BY attempt""")
    return app_times(frame, ("queued_at", "started_at", "finished_at"))


MAX_ACTED = 100_000  # operations with attempts read at once for a view as of a moment


def attempts_at(db: Connectable, at: datetime, bound: int = ROW_BOUND) -> pd.DataFrame:
    """Every operation with an attempt queued by ``at``, one row each: sync_id, attempts (queued by
    then), max_attempts (the operation's, NULL without a row), and its last attempt by then:
    attempt_state (as stored), task_id, run_id, error (cut to ``bound``), queued_at, started_at,
    finished_at (naive UTC as stored, later ones included: ``dashapp.payloads.failed`` reads them
    against ``at``). At most MAX_ACTED rows, the newest."""
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        t, o = app_table(conn, "operation_attempts"), app_table(conn, "failed_operations")
        by_then = b.bind_app_time(at)
        frame = b.frame(f"""
            SELECT a.sync_id, n.attempts, o.max_attempts, a.state AS attempt_state, a.task_id, a.run_id,
                   {cut("a.error", "error", bound)}, a.queued_at, a.started_at, a.finished_at
            FROM (SELECT sync_id, MAX(attempt) AS last_attempt, COUNT(*) AS attempts FROM {t}
                  WHERE queued_at <= {by_then} GROUP BY sync_id) n
            JOIN {t} a ON a.sync_id = n.sync_id AND a.attempt = n.last_attempt
            LEFT JOIN {o} o ON o.sync_id = n.sync_id
            ORDER BY a.queued_at DESC LIMIT {MAX_ACTED}""")
    return app_times(frame, ("queued_at", "started_at", "finished_at"))


def audit(db: Connectable, limit: int = 50) -> pd.DataFrame:
    """The newest ``limit`` entries (actions and sign-ins, one row each) and, among them, the
    refusals' summary rows (``repeats``: the requests one counts; at most ``limit``) since the
    oldest of those entries: refusals, however many and however varied, never push an entry out."""
    n = max(1, min(int(limit), MAX_LIMIT))
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        columns = (f"id, at, actor, role, action, {cut('target', 'target', LIST_BOUND)}, operations, result, "
                   f"{cut('detail', 'detail', LIST_BOUND)}, source, repeats")
        table = app_table(conn, "audit_log")
        frame = b.frame(f"""
            WITH entries AS (
                SELECT {columns} FROM {table} WHERE summary_key IS NULL ORDER BY at DESC, id DESC LIMIT {n}),
            refusals AS (
                SELECT {columns} FROM {table}
                WHERE summary_key IS NOT NULL
                  AND ((SELECT COUNT(*) FROM entries) < {n} OR at >= (SELECT MIN(at) FROM entries))
                ORDER BY at DESC, id DESC LIMIT {n})
            SELECT * FROM (SELECT * FROM entries UNION ALL SELECT * FROM refusals) a ORDER BY at DESC, id DESC""")
    return app_times(frame, ("at",))
