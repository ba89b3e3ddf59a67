"""Runs that had started by a moment T but ended after it: running at T. The run rollups count by
the stored status; a view as of T (``at``) takes these out of their stored class (and, for the
history's status filter, into ``running``).

A run started long before T could still have been running at T, so the start window alone does not
bound them. On PostgreSQL they are read in two index reads instead of a scan of the window: the
runs started in the LONG_RUN before T (the start_time index), and the runs longer than LONG_RUN
started before that (the README's duration index, ``(end_time - start_time) DESC``), which are few.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from queries import scope
from queries._sql import Binds, Connectable, connect, sql, table

LONG_RUN = timedelta(hours=48)


def ended_after(db: Connectable, at: datetime, start: datetime | None, end: datetime, crm_sources=(),
                sync_types=(), classes: tuple[str, ...] = ()) -> int:
    """How many runs of these CRMs, sync types and stored status ``classes`` (empty: any) started in
    [start, end) (``end`` <= ``at``; ``start`` None: open) and ended after ``at``."""
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        keys = {"crm_sources": crm_sources, "sync_types": sync_types, "classes": classes}
        after = f"end_time > {b.bind(at)}"
        if not b.postgres:
            where = scope.runs(b, start=start, end=end, **keys)
            statement = f"SELECT COUNT(*) FROM {h} WHERE {scope.where([*where, after])}"
        else:
            split = at - LONG_RUN
            recent = scope.runs(b, start=split if start is None else max(start, split), end=end, **keys)
            older = scope.runs(b, start=start, end=min(end, split), **keys)
            long_run = f"(end_time - start_time) > INTERVAL '{int(LONG_RUN.total_seconds())} seconds'"
            statement = (f"SELECT (SELECT COUNT(*) FROM {h} WHERE {scope.where([*recent, after])}) + "
                         f"(SELECT COUNT(*) FROM {h} WHERE {scope.where([*older, long_run, after])})")
        return int(conn.execute(sql(statement, params=tuple(b.time_params)), b.params).scalar_one())
