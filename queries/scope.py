"""The one builder of run-scope conditions: which runs a reader reads, as SQL conditions over bound
parameters (``Binds``), for PostgreSQL and SQLite and both table shapes.

Plain values in, a list of conditions out (``where`` joins them):
- ``runs``: the user's ``sync_history`` (``alias`` "h." when joined): ``start_time`` in
  [start, end), CRMs, sync types, status classes (through ``queries.outcomes``, so aliases count
  and the status index is used), raw status filter values, ids and an error-message search;
- ``rollups``: a rollup table (``run_hours``, ``run_days``, ``duration_days``): its period column
  in [low, high), CRMs, sync types and status classes.
Every time bound is a plain comparison on the column itself, so each reader keeps its range scan
of the start_time index (never a function of the column).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from queries import outcomes
from queries._sql import Binds


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (``ESCAPE '\\'``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _keys(b: Binds, alias: str, crm_sources: Iterable[object], sync_types: Iterable[object]) -> list[str]:
    where = []
    if crm_sources:
        where.append(b.in_list(f"{alias}crm_source", tuple(crm_sources)))
    if sync_types:
        where.append(b.in_list(f"{alias}sync_type", tuple(sync_types)))
    return where


def runs(b: Binds, *, start: datetime | None = None, end: datetime | None = None, crm_sources=(),
         sync_types=(), classes: tuple[str, ...] = (), statuses: tuple[str, ...] = (), ids: Iterable[int] = (),
         search: str | None = None, alias: str = "") -> list[str]:
    """Conditions on ``sync_history``: started in [start, end) (aware or in the data zone; None:
    open), of these CRMs and sync types, in these status ``classes``, holding one of these raw
    ``statuses`` (a class stands for its aliases, any other value for itself), with these ``ids``,
    and ``search`` in the error message (case-insensitive)."""
    where = []
    if start is not None:
        where.append(f"{alias}start_time >= {b.bind(start)}")
    if end is not None:
        where.append(f"{alias}start_time < {b.bind(end)}")
    where += _keys(b, alias, crm_sources, sync_types)
    if classes:
        where.append(outcomes.in_class(b.conn, *classes, column=f"{alias}status"))
    if statuses:
        where.append(b.in_list(f"{alias}status", outcomes.filter_values(b.conn, statuses)))
    wanted = [int(i) for i in ids]
    if wanted:
        where.append(f"{alias}id IN ({', '.join(str(i) for i in wanted)})")
    if search:
        where.append(b.like(f"{alias}error_message", f"%{escape_like(search)}%"))
    return where


def _period_bind(b: Binds, value: object) -> str:
    """A rollup period bound: an hour (naive UTC, the app's tables) or a 'YYYY-MM-DD' day."""
    return b.bind_app_time(value) if isinstance(value, datetime) else b.bind(value)


def rollups(b: Binds, period: str, low: object = None, high: object = None, crm_sources=(), sync_types=(),
            classes: tuple[str, ...] = ()) -> list[str]:
    """Conditions on a rollup table: ``period`` (``hour`` or ``day_utc``) in [low, high) (None:
    open), of these CRMs, sync types and status classes."""
    where = []
    if low is not None:
        where.append(f"{period} >= {_period_bind(b, low)}")
    if high is not None:
        where.append(f"{period} < {_period_bind(b, high)}")
    where += _keys(b, "", crm_sources, sync_types)
    if classes:
        where.append(b.in_list("status_class", tuple(classes)))
    return where


def hour_spans(b: Binds, spans: Iterable[tuple[datetime, datetime]]) -> str:
    """Rollup hours in any of ``spans`` ([low, high) pairs), as one parenthesised OR."""
    return "(" + " OR ".join(f"(hour >= {b.bind_app_time(low)} AND hour < {b.bind_app_time(high)})"
                             for low, high in spans) + ")"


def where(conditions: list[str]) -> str:
    """``conditions`` joined by AND (``1 = 1`` when there are none)."""
    return " AND ".join(conditions) or "1 = 1"
