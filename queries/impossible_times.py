"""Runs at impossible times: a start before ``time_bounds.EARLIEST`` (2000-01-01 UTC) or after
``time_bounds.latest(now)`` (a day ahead), ±infinity included. /health counts and lists them.

Both sides are index range probes on start_time (every shape of the table indexes it), each
bounded by a LIMIT, so the answer costs the same on 5 rows or 5 million.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries._sql import Binds, Connectable, connect, table
from queries.time_bounds import EARLIEST, latest

COUNT_CAP = 10_000  # counted up to this on each side; past it "at least"
LISTED = 10  # runs listed per side


def bounds(now: datetime) -> tuple[datetime, datetime]:
    """(earliest, latest) plausible start at ``now``: a start outside [earliest, latest] is impossible."""
    return EARLIEST, latest(now)


def impossible_count(db: Connectable, now: datetime, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(runs whose start is impossible, exact?): each side counted up to ``cap``."""
    low, high = bounds(now)
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        before, after, over = b.bind(low), b.bind(high), b.bind(int(cap) + 1)
        side = "(SELECT COUNT(*) FROM (SELECT 1 FROM {h} WHERE start_time {op} {edge} LIMIT {over}) AS s)"
        frame = b.frame("SELECT " + side.format(h=h, op="<", edge=before, over=over) + ", "
                        + side.format(h=h, op=">", edge=after, over=over))
    early, late = (int(v) for v in frame.iloc[0])
    return min(early, cap) + min(late, cap), early <= cap and late <= cap


def impossible_runs(db: Connectable, now: datetime, limit: int = LISTED) -> pd.DataFrame:
    """Up to ``limit`` runs on each side: the earliest starts before EARLIEST (-infinity first)
    and the latest after latest(now) (infinity first). Columns id, crm_source, sync_type, start_time (UTC)."""
    low, high = bounds(now)
    frames = []
    with connect(db) as conn:
        h = table(conn, "sync_history")
        for condition, order in (("<", "ASC"), (">", "DESC")):
            b = Binds(conn)
            edge = b.bind(low if condition == "<" else high)
            frames.append(b.frame(f"SELECT id, crm_source, sync_type, start_time FROM {h} "
                                  f"WHERE start_time {condition} {edge} ORDER BY start_time {order}, id "
                                  f"LIMIT {int(limit)}", times=("start_time",)))
    return pd.concat(frames, ignore_index=True) if any(not f.empty for f in frames) else frames[0]
