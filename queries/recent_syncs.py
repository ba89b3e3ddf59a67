"""The most recent runs, newest start_time first; as of a past moment, those started by it, one
that ended after it shown running (``recent_runs.running_at``)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries._sql import Connectable, bind_time, connect, read_frame, sql, table
from queries.durations import add_duration
from queries.messages import ROW_BOUND
from queries.outcomes import class_case
from queries.recent_runs import running_at

MAX_LIMIT = 500
TIMES = ("start_time", "end_time")

_RECENT = """
SELECT id, crm_source, sync_type, status, {status_class} AS status_class, start_time, end_time,
       records_processed, records_created, records_updated, records_failed,
       SUBSTR(error_message, 1, {bound}) AS error_message, LENGTH(error_message) AS error_message_length
FROM {h}
{where}
ORDER BY start_time DESC, id DESC
LIMIT :limit
"""


def recent_syncs(db: Connectable, limit: int, now: datetime, as_of: bool = False) -> pd.DataFrame:
    """The ``limit`` newest runs (1..MAX_LIMIT) with ``duration_seconds`` as of ``now``; ``as_of``
    (``now`` a past moment): the newest started by then, as they were then."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    binds: dict = {"limit": limit}
    with connect(db) as conn:
        if as_of:
            binds["until"] = bind_time(conn, now)
        frame = read_frame(
            conn, sql(_RECENT.format(h=table(conn, "sync_history"), status_class=class_case(conn),
                                    bound=ROW_BOUND, where="WHERE start_time <= :until" if as_of else ""),
                      times=TIMES, params=("until",) if as_of else ()),
            binds, times=TIMES,
        )
    return add_duration(running_at(frame, now) if as_of else frame, now)
