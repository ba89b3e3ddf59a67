"""The errors page: recent failures, error classes, and the CRMs that fail most."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries._sql import Binds, Connectable, connect, read_frame, sql, table
from queries.error_classes import error_class, search_text

TIMES = ("start_time", "end_time")


def recent_failures(db: Connectable, limit: int = 10) -> pd.DataFrame:
    """The newest ``limit`` failed runs with their whole messages."""
    with connect(db) as conn:
        statement = sql(f"""
            SELECT id, crm_source, sync_type, start_time, end_time, error_message
            FROM {table(conn, 'sync_history')} WHERE status = 'failed'
            ORDER BY start_time DESC, id DESC LIMIT :limit""", times=TIMES)
        return read_frame(conn, statement, {"limit": int(limit)}, times=TIMES)


def error_classes(db: Connectable, start: datetime, end: datetime) -> pd.DataFrame:
    """Failed runs started in [start, end) grouped by error class, most frequent first.

    SQL groups the distinct messages (their first 500 characters) and counts them; the classes
    are then made from those few distinct texts, not from every row.
    """
    with connect(db) as conn:
        b = Binds(conn)
        messages = b.frame(f"""
            SELECT SUBSTR(error_message, 1, 500) AS message, COUNT(*) AS runs,
                   MAX(start_time) AS last_seen, MIN(crm_source) AS crm_source,
                   COUNT(DISTINCT crm_source) AS crms
            FROM {table(conn, 'sync_history')}
            WHERE status = 'failed' AND start_time >= {b.bind(start)} AND start_time < {b.bind(end)}
            GROUP BY SUBSTR(error_message, 1, 500)""")
    columns = ["error_class", "runs", "sample", "last_seen", "search"]
    if messages.empty:
        return pd.DataFrame(columns=columns)
    messages["error_class"] = [error_class(m) for m in messages["message"]]
    messages["last_seen"] = messages["last_seen"].astype(str)
    messages = messages.sort_values("runs", ascending=False)
    grouped = messages.groupby("error_class", sort=False).agg(
        runs=("runs", "sum"), sample=("message", "first"), last_seen=("last_seen", "max")).reset_index()
    grouped["search"] = [search_text(c) for c in grouped["error_class"]]
    return grouped.sort_values(["runs", "error_class"], ascending=[False, True]).reset_index(drop=True)[columns]


def failure_rates(db: Connectable, start: datetime, end: datetime) -> pd.DataFrame:
    """Per CRM, runs finished in the window started in [start, end): failed, total and the
    failure rate in percent; worst first."""
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT crm_source, finished, failed,
                   CAST(ROUND(CAST(failed * 100.0 / finished AS NUMERIC), 2) AS DOUBLE PRECISION) AS failure_rate
            FROM (SELECT crm_source, COUNT(*) AS finished,
                         COUNT(*) FILTER (WHERE status = 'failed') AS failed
                  FROM {table(conn, 'sync_history')}
                  WHERE start_time >= {b.bind(start)} AND start_time < {b.bind(end)}
                    AND status IN ('success', 'failed', 'partial')
                  GROUP BY crm_source) per_crm
            ORDER BY failure_rate DESC, failed DESC, crm_source""")
