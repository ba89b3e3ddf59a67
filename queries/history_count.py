"""The history's count from the run rollups, exact at any size, when the filter can be said in the
rollups' keys: a start_time window (or none), CRMs, sync types, and statuses that are whole status
classes (``success`` stands for ``completed`` too). Text search, grid column filters, a raw status
value (an alias alone, an unknown value) and ``ended_after`` cannot: ``rollup_count`` answers None
and ``queries.history.history_count`` counts the raw table up to its cap as before.

The window is answered as ``queries.run_rollups`` answers the performance page: whole UTC days
from ``run_days``, whole hours around them from ``run_hours``, the raw table for the edges (the
part of the first hour before it starts, everything from ``covered_until`` on and before 2000,
and the hours holding runs written since the last refresh: ``run_rollups.dirty_hours``). With a status
filter, an hour the rollups hold a running run in is counted from the raw table instead (the run
may have closed since that hour was rolled up, moving it to another class): one probe of
``run_days`` finds the days that have any, and only their hours are looked at.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import pandas as pd

from queries import outcomes, scope
from queries._sql import Binds, Connectable, app_db, app_table, connect, sql, table
from queries.run_rollups import (
    EARLIEST_HOUR,
    _ceil_hour,
    _naive_utc,
    _plan,
    day_text,
    dirty_hours,
    floor_hour,
    parse_day,
    ready,
)


class HistoryFilter(Protocol):
    """What this module reads of ``queries.history.HistoryFilter`` (which imports this module)."""
    start: datetime | None
    end: datetime | None
    crm_sources: tuple[str, ...]
    statuses: tuple[str, ...]
    sync_types: tuple[str, ...]
    q: str | None
    columns: dict
    ended_after: datetime | None

MAX_OPEN_HOURS = 200  # hours with a running run in the window, counted raw; past it, no rollup count


def expressible(f: HistoryFilter) -> tuple[str, ...] | None:
    """The status classes ``f`` asks for (empty: any status), or None when ``f`` holds something
    the rollups cannot answer."""
    if f.q or f.columns or f.ended_after is not None:
        return None
    if any(value not in outcomes.CLASSES for value in f.statuses):
        return None
    return tuple(dict.fromkeys(f.statuses))


def _raw_where(b: Binds, f: HistoryFilter, low: datetime | None, high: datetime | None,
               classes: tuple[str, ...]) -> str:
    """start_time in [low, high) (None: unbounded), and ``f``'s CRMs, sync types and classes."""
    return scope.where(scope.runs(b, start=low, end=high, crm_sources=f.crm_sources, sync_types=f.sync_types,
                                  classes=classes))


def _raw_count(db: Connectable, f: HistoryFilter, ranges, classes: tuple[str, ...], cap: int | None) -> int:
    """Runs matching ``f`` started in ``ranges`` (at most ``cap + 1`` counted in each when ``cap``
    is given). One statement, a range scan per range (an OR of ranges would let the planner scan
    more than their runs)."""
    with connect(db) as conn:
        b = Binds(conn)
        limit = "" if cap is None else f" LIMIT {int(cap) + 1}"
        counts = [f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table(conn, 'sync_history')} "
                  f"WHERE {_raw_where(b, f, low, high, classes)}{limit}) AS r{i})"
                  for i, (low, high) in enumerate(ranges)]
        statement = "SELECT " + " + ".join(counts)
        return int(conn.execute(sql(statement, params=tuple(b.time_params)), b.params).scalar_one())


def _keys(b: Binds, f: HistoryFilter, classes: tuple[str, ...]) -> list[str]:
    return scope.rollups(b, "hour", crm_sources=f.crm_sources, sync_types=f.sync_types, classes=classes)


def _hours_ranges(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted naive UTC hours as aware [start, end) ranges of consecutive hours."""
    ranges: list[list[datetime]] = []
    for hour in sorted(set(hours)):
        if ranges and ranges[-1][1] == hour:
            ranges[-1][1] = hour + timedelta(hours=1)
        else:
            ranges.append([hour, hour + timedelta(hours=1)])
    return [(a.replace(tzinfo=UTC), b.replace(tzinfo=UTC)) for a, b in ranges]


def rollup_count(db: Connectable, f: HistoryFilter, cap: int = 100_000) -> int | None:
    """The exact number of runs matching ``f``, mostly from the rollups; None when ``f`` cannot be
    answered from them, there are no rollups, or the raw edges alone hold more than ``cap`` runs
    (rollups far behind: the capped count is as good then)."""
    classes = expressible(f)
    if classes is None:
        return None
    covered = ready(db)
    if covered is None:
        return None
    dirty = dirty_hours(db, covered)
    raw, rolled = _plan(f.start, f.end, covered, dirty)
    if not rolled:
        return None
    h0 = EARLIEST_HOUR if f.start is None else max(EARLIEST_HOUR, _ceil_hour(f.start))
    h1 = covered if f.end is None else min(covered, floor_hour(f.end))
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        sums = []
        for name, period, low, high in rolled:
            where = scope.where(scope.rollups(b, period, low, high, f.crm_sources, f.sync_types, classes))
            sums.append(f"(SELECT COALESCE(SUM(runs), 0) FROM {app_table(conn, name)} WHERE {where})")
        total = int(conn.execute(sql("SELECT " + " + ".join(sums), params=tuple(b.time_params)),
                                 b.params).scalar_one())
        open_hours = [h for h in _open_hours(conn, f, h0, h1) if h not in dirty] if classes else []
        if len(open_hours) > MAX_OPEN_HOURS:
            return None
        if open_hours:  # their rollup rows may be stale: take those hours from the raw table
            b = Binds(conn)
            where = scope.where([scope.hour_spans(b, _hours_ranges(open_hours)), *_keys(b, f, classes)])
            total -= int(conn.execute(sql(f"SELECT COALESCE(SUM(runs), 0) FROM {app_table(conn, 'run_hours')} "
                                          f"WHERE {where}", params=tuple(b.time_params)), b.params).scalar_one())
    if open_hours:
        total += _raw_count(db, f, _hours_ranges(open_hours), classes, None)
    edges = [(low, high) for low, high in raw]
    if edges:
        edge = _raw_count(db, f, edges, classes, cap)
        if edge > cap:
            return None
        total += edge
    return total


def _open_hours(conn, f: HistoryFilter, h0: datetime, h1: datetime) -> list[datetime]:
    """The rolled-up hours in [h0, h1) that hold a running run of ``f``'s CRMs and types."""
    b = Binds(conn)
    day = scope.rollups(b, "day_utc", day_text(h0), day_text(h1 + timedelta(days=1)), f.crm_sources, f.sync_types,
                        ("running",))
    days = [value for (value,) in conn.execute(sql(
        f"SELECT DISTINCT day_utc FROM {app_table(conn, 'run_days')} WHERE {scope.where(day)}"), b.params)]
    spans = [(max(parse_day(value), h0), min(parse_day(value) + timedelta(days=1), h1)) for value in days]
    spans = [(low, high) for low, high in spans if low < high]
    if not spans:
        return []
    b = Binds(conn)
    where = scope.where([scope.hour_spans(b, spans), *_keys(b, f, ("running",))])
    rows = conn.execute(sql(f"SELECT DISTINCT hour FROM {app_table(conn, 'run_hours')} WHERE {where}",
                            params=tuple(b.time_params)), b.params)
    return [_naive_utc(_as_datetime(value)) for (value,) in rows]


def _as_datetime(value: object) -> datetime:
    """An hour of ``run_hours`` (a datetime; text on SQLite, always 2000 or later) as a datetime."""
    if isinstance(value, datetime):
        return value
    return pd.Timestamp(str(value)).to_pydatetime()
