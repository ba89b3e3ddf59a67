"""The history's count from the run rollups, exact at any size, for what can be said in the
rollups' keys: a start_time window (or none), CRMs, sync types, and statuses that are whole status
classes (``success`` stands for ``completed`` too: ``classes_of``). Text search, grid column
filters, a raw status value (an alias alone, an unknown value) and ``ended_after`` cannot:
``queries.history.history_count`` counts the raw table up to its cap for those.

The window is answered as the performance page's is (``read``): whole UTC days from ``run_days``,
whole hours around them from ``run_hours``, the raw table for the edges (the part of the first hour
before it starts, everything from ``covered_until`` on and before 2000, and the hours holding runs
written since the last refresh: ``state.dirty_hours``). With a status filter, an hour the rollups
hold a running run in is counted from the raw table instead (the run may have closed since that
hour was rolled up, moving it to another class): one probe of ``run_days`` finds the days that have
any, and only their hours are looked at.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from queries import outcomes, scope
from queries._sql import Binds, Connectable, app_db, app_table, connect, sql, table
from queries.run_rollups.hours import (
    EARLIEST_HOUR,
    aware,
    ceil_hour,
    day_text,
    floor_hour,
    hour_ranges,
    naive_utc,
    parse_day,
)
from queries.run_rollups.plan import plan_window
from queries.run_rollups.state import dirty_hours, ready

MAX_OPEN_HOURS = 200  # hours with a running run in the window, counted raw; past it, no rollup count
Keys = tuple[tuple[str, ...], tuple[str, ...]]  # (CRMs, sync types); empty: any


def classes_of(statuses: tuple[str, ...]) -> tuple[str, ...] | None:
    """The status classes a status filter asks for (empty: any status), or None when it holds a
    value that is not a whole class (the rollups cannot answer it)."""
    if any(value not in outcomes.CLASSES for value in statuses):
        return None
    return tuple(dict.fromkeys(statuses))


def _raw_count(db: Connectable, keys: Keys, ranges, classes: tuple[str, ...], cap: int | None) -> int:
    """Runs of ``keys`` and ``classes`` started in ``ranges`` (at most ``cap + 1`` counted in each
    when ``cap`` is given). One statement, a range scan per range (an OR of ranges would let the
    planner scan more than their runs)."""
    with connect(db) as conn:
        b = Binds(conn)
        limit = "" if cap is None else f" LIMIT {int(cap) + 1}"
        counts = []
        for i, (low, high) in enumerate(ranges):
            where = scope.runs(b, start=low, end=high, crm_sources=keys[0], sync_types=keys[1], classes=classes)
            counts.append(f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table(conn, 'sync_history')} "
                          f"WHERE {scope.where(where)}{limit}) AS r{i})")
        statement = "SELECT " + " + ".join(counts)
        return int(conn.execute(sql(statement, params=tuple(b.time_params)), b.params).scalar_one())


def _sum_runs(conn, b: Binds, name: str, conditions: list[str]) -> str:
    return f"(SELECT COALESCE(SUM(runs), 0) FROM {app_table(conn, name)} WHERE {scope.where(conditions)})"


def rollup_count(db: Connectable, start: datetime | None, end: datetime | None, crm_sources: tuple[str, ...] = (),
                 sync_types: tuple[str, ...] = (), classes: tuple[str, ...] = (), cap: int = 100_000) -> int | None:
    """The exact number of runs started in [start, end) of these CRMs, sync types and status
    classes, mostly from the rollups; None when there are no rollups, or the raw edges alone hold
    more than ``cap`` runs (rollups far behind: the capped count is as good then)."""
    covered = ready(db)
    if covered is None:
        return None
    dirty = dirty_hours(db, covered)
    raw, rolled = plan_window(start, end, covered, dirty)
    if not rolled:
        return None
    keys: Keys = (tuple(crm_sources), tuple(sync_types))
    h0 = EARLIEST_HOUR if start is None else max(EARLIEST_HOUR, ceil_hour(start))
    h1 = covered if end is None else min(covered, floor_hour(end))
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        sums = [_sum_runs(conn, b, name, scope.rollups(b, period, low, high, *keys, classes))
                for name, period, low, high in rolled]
        total = int(conn.execute(sql("SELECT " + " + ".join(sums), params=tuple(b.time_params)),
                                 b.params).scalar_one())
        open_hours = [h for h in _open_hours(conn, keys, h0, h1) if h not in dirty] if classes else []
        if len(open_hours) > MAX_OPEN_HOURS:
            return None
        if open_hours:  # their rollup rows may be stale: take those hours from the raw table
            b = Binds(conn)
            stale = _sum_runs(conn, b, "run_hours", [scope.hour_spans(b, hour_ranges(open_hours)),
                                                     *scope.rollups(b, "hour", None, None, *keys, classes)])
            total -= int(conn.execute(sql(f"SELECT {stale}", params=tuple(b.time_params)), b.params).scalar_one())
    if open_hours:
        total += _raw_count(db, keys, [aware(low, high) for low, high in hour_ranges(open_hours)], classes, None)
    if raw:
        edge = _raw_count(db, keys, raw, classes, cap)
        if edge > cap:
            return None
        total += edge
    return total


def _open_hours(conn, keys: Keys, h0: datetime, h1: datetime) -> list[datetime]:
    """The rolled-up hours in [h0, h1) that hold a running run of these CRMs and types."""
    b = Binds(conn)
    day = scope.rollups(b, "day_utc", day_text(h0), day_text(h1 + timedelta(days=1)), *keys, ("running",))
    days = [value for (value,) in conn.execute(sql(
        f"SELECT DISTINCT day_utc FROM {app_table(conn, 'run_days')} WHERE {scope.where(day)}"), b.params)]
    spans = [(max(parse_day(value), h0), min(parse_day(value) + timedelta(days=1), h1)) for value in days]
    spans = [(low, high) for low, high in spans if low < high]
    if not spans:
        return []
    b = Binds(conn)
    where = scope.where([scope.hour_spans(b, spans), *scope.rollups(b, "hour", None, None, *keys, ("running",))])
    rows = conn.execute(sql(f"SELECT DISTINCT hour FROM {app_table(conn, 'run_hours')} WHERE {where}",
                            params=tuple(b.time_params)), b.params)
    return [naive_utc(_as_datetime(value)) for (value,) in rows]


def _as_datetime(value: object) -> datetime:
    """An hour of ``run_hours`` (a datetime; text on SQLite, always 2000 or later) as a datetime."""
    if isinstance(value, datetime):
        return value
    return pd.Timestamp(str(value)).to_pydatetime()
