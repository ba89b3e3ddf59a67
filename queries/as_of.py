"""The user's runs as they stood at a past moment (a view's ``at``), for the readers that aggregate
them (performance, errors, the run rollups' raw edges).

``runs_source`` is ``sync_history`` where a run that ended after the moment is still running then:
its status is ``running`` (a class of its own, in no finished count), its end and error message
unknown (NULL). Its other columns are as stored: the table keeps no earlier values of its record
counts. Only runs started before the moment are in it.

``queries.run_rollups.spanning_hours`` finds the UTC hours whose runs the rollups count differently
at the moment (a run that started in them and ended after it): readers take those hours from the
raw table through ``runs_source``; ``ended_after`` counts such runs (the history's and the failed
operations' counts take them out of their stored class).

Runs across the moment are found without a scan of the window, however long ago they started
(``across``): on PostgreSQL, those started in the LONG_RUN before the moment by the start_time
index, and those started earlier (longer than LONG_RUN, so few) by the README's duration index
``(end_time - start_time) DESC``. Without that index the second read scans the window's earlier
runs: slower, the same answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DataError

from queries import scope
from queries._sql import Binds, Connectable, connect, sql, table

T = TypeVar("T")
RUNNING = "running"
LONG_RUN = timedelta(hours=6)
_COLUMNS = ("id", "crm_source", "sync_type", "start_time", "records_processed", "records_created",
            "records_updated", "records_failed")


def runs_source(b: Binds, at: datetime | None, name: str = "sync_history") -> str:
    """What to put after FROM for the runs: the table itself when live (``at`` None), else a
    derived table of the runs as they stood at ``at``, named ``name``."""
    h = table(b.conn, "sync_history")
    if at is None:
        return h
    moment = b.bind(at)
    after = f"end_time > {moment}"
    return (f"(SELECT {', '.join(_COLUMNS)}, CASE WHEN {after} THEN '{RUNNING}' ELSE status END AS status, "
            f"CASE WHEN {after} THEN NULL ELSE end_time END AS end_time, "
            f"CASE WHEN {after} THEN NULL ELSE error_message END AS error_message "
            f"FROM {h} WHERE start_time < {moment}) {name}")


def across(b: Binds, at: datetime, start: datetime | None, end: datetime, crm_sources=(), sync_types=(),
           classes: tuple[str, ...] = (), indexed: bool = True) -> list[list[str]]:
    """Conditions on ``sync_history``, one list per index read, whose union is the runs of these
    CRMs, sync types and stored status ``classes`` (empty: any) started in [start, end) (``end`` at
    most ``at``; ``start`` None: any time) that ended after ``at``. ``indexed=False``: the longer
    runs without the duration index's expression, which PostgreSQL before 16 cannot compute for a
    time at ±infinity (``in_one``)."""
    keys = {"crm_sources": crm_sources, "sync_types": sync_types, "classes": classes}
    after = f"end_time > {b.bind(at)}"
    if not b.postgres:
        return [[*scope.runs(b, start=start, end=end, **keys), after]]
    split = at - LONG_RUN
    recent = scope.runs(b, start=split if start is None else max(start, split), end=end, **keys)
    older = scope.runs(b, start=start, end=min(end, split), **keys)
    span = f"INTERVAL '{int(LONG_RUN.total_seconds())} seconds'"
    longer = f"(end_time - start_time) > {span}" if indexed else f"end_time > start_time + {span}"
    return [[*recent, after], [*older, longer, after]]


def in_one(conn: Connection, read: Callable[[bool], T]) -> T:
    """``read(indexed)`` with ``across``'s duration index; where PostgreSQL refuses it (a time at
    ±infinity: "cannot subtract infinite timestamps" before version 16), again without it, in the
    caller's transaction (a savepoint)."""
    if conn.dialect.name != "postgresql":
        return read(False)
    try:
        with conn.begin_nested():
            return read(True)
    except DataError:
        return read(False)


def ended_after(db: Connectable, at: datetime, start: datetime | None, end: datetime, crm_sources=(),
                sync_types=(), classes: tuple[str, ...] = ()) -> int:
    """How many runs of these CRMs, sync types and stored status ``classes`` (empty: any) started in
    [start, end) and ended after ``at`` (``across``)."""
    with connect(db) as conn:
        def read(indexed: bool) -> int:
            b = Binds(conn)
            h = table(conn, "sync_history")
            parts = across(b, at, start, end, crm_sources, sync_types, classes, indexed)
            statement = "SELECT " + " + ".join(f"(SELECT COUNT(*) FROM {h} WHERE {scope.where(where)})"
                                               for where in parts)
            return int(conn.execute(sql(statement, params=tuple(b.time_params)), b.params).scalar_one())

        return in_one(conn, read)
