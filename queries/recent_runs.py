"""The newest runs of given (crm_source, sync_type) pairs, a few per pair: the overview's strip of
ticks per sync, and the gaps that estimate how often an unscheduled sync runs.

On PostgreSQL each pair reads its newest runs through an index (LATERAL ... LIMIT); on SQLite a
window over the pairs' runs. As of a past moment (``as_of``) only runs started by it count, and
``running_at`` shows a run that ended after it as it was then: running.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from queries import outcomes, time_bounds
from queries._sql import Binds, Connectable, connect, table

MAX_PER_PAIR = 50
MAX_PAIRS = 5000
COLUMNS = ["crm_source", "sync_type", "id", "status", "status_class", "start_time"]


def started_by(now: datetime, as_of: bool = False) -> datetime:
    """The latest start a run may have to count at ``now``: ``now`` itself as of a past moment;
    live, ``time_bounds.latest(now)`` (later is an impossible time)."""
    return now if as_of else time_bounds.latest(now)


def running_at(frame: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Runs as they were at ``now``: one that ended after it was running then (status and class
    ``running``, no end, no error yet); its record counts are its final ones (the warehouse keeps
    no earlier)."""
    if frame.empty or "end_time" not in frame:
        return frame
    moment = pd.Timestamp(now if now.tzinfo else now.replace(tzinfo=UTC))
    later = frame["end_time"].notna() & (frame["end_time"] > moment)
    if not later.any():
        return frame
    frame = frame.copy()
    frame["end_time"] = frame["end_time"].mask(later)
    for column in ("status", "status_class"):
        if column in frame:
            frame[column] = frame[column].astype(object).mask(later, "running")
    for column in ("error_message", "error_message_length"):
        if column in frame:
            frame[column] = frame[column].astype(object).mask(later, None)
    return frame


def recent_runs(db: Connectable, pairs: list[tuple[str, str]], per_pair: int, now: datetime,
                as_of: bool = False) -> pd.DataFrame:
    """Up to ``per_pair`` newest runs of each pair started by ``started_by(now, as_of)``, newest
    first within a pair: crm_source, sync_type, id, status, status_class, start_time (UTC); as of a
    past moment a run that ended after it is ``running``."""
    pairs = sorted(set(pairs))[:MAX_PAIRS]
    per_pair = max(1, min(int(per_pair), MAX_PER_PAIR))
    if not pairs:
        return pd.DataFrame(columns=COLUMNS)
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        status_class = outcomes.class_case(conn, "r.status")
        latest = b.bind(started_by(now, as_of))
        if b.postgres:
            values = ", ".join(f"({b.bind(c)}, {b.bind(t)})" for c, t in pairs)
            statement = f"""
                SELECT p.crm_source, p.sync_type, r.id, r.status, {status_class} AS status_class, r.start_time,
                       r.end_time
                FROM (VALUES {values}) AS p (crm_source, sync_type)
                CROSS JOIN LATERAL (
                    SELECT h.id, h.status, h.start_time, h.end_time FROM {h} h
                    WHERE h.crm_source = p.crm_source AND h.sync_type = p.sync_type AND h.start_time <= {latest}
                    ORDER BY h.start_time DESC, h.id DESC LIMIT {per_pair}) r
                ORDER BY 1, 2, r.start_time DESC, r.id DESC"""
        else:
            wanted = " OR ".join(f"(h.crm_source = {b.bind(c)} AND h.sync_type = {b.bind(t)})" for c, t in pairs)
            statement = f"""
                SELECT crm_source, sync_type, id, status, {status_class} AS status_class, start_time, end_time FROM (
                    SELECT h.crm_source, h.sync_type, h.id, h.status, h.start_time, h.end_time,
                           ROW_NUMBER() OVER (PARTITION BY h.crm_source, h.sync_type
                                              ORDER BY h.start_time DESC, h.id DESC) AS recency
                    FROM {h} h WHERE ({wanted}) AND h.start_time <= {latest}) r
                WHERE recency <= {per_pair}
                ORDER BY 1, 2, start_time DESC, id DESC"""
        frame = b.frame(statement, times=("start_time", "end_time"))
    return (running_at(frame, now) if as_of else frame)[COLUMNS]
