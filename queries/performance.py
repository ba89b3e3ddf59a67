"""The performance page's aggregates, bucketed by day of start_time and computed in SQL.

Percentiles: PostgreSQL's percentile_cont (interpolated); SQLite, which has none, takes the
nearest rank with window functions. Durations count finished runs that succeeded or were partial.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries._sql import Binds, Connectable, connect, day_sql, duration_sql, table

FINISHED = "end_time IS NOT NULL AND status IN ('success', 'partial')"


def _window(b: Binds, start: datetime, end: datetime, crm_sources=(), sync_types=()) -> str:
    clauses = [f"start_time >= {b.bind(start)}", f"start_time < {b.bind(end)}"]
    if crm_sources:
        clauses.append(b.in_list("crm_source", tuple(crm_sources)))
    if sync_types:
        clauses.append(b.in_list("sync_type", tuple(sync_types)))
    return " AND ".join(clauses)


def duration_percentiles(db: Connectable, start: datetime, end: datetime, *, by_crm: bool = True,
                         crm_sources=(), sync_types=()) -> pd.DataFrame:
    """Per day (and CRM, or 'all'): p50 and p95 duration in seconds and the run count."""
    with connect(db) as conn:
        b = Binds(conn)
        where = _window(b, start, end, crm_sources, sync_types)
        group = "crm_source" if by_crm else "'all'"
        runs = (f"SELECT {day_sql(conn)} AS day, {group} AS crm_source, {duration_sql(conn)} AS seconds "
                f"FROM {table(conn, 'sync_history')} WHERE {where} AND {FINISHED}")
        if b.postgres:
            statement = f"""
                SELECT day, crm_source,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50,
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) AS p95,
                       COUNT(*) AS runs
                FROM ({runs}) d GROUP BY day, crm_source ORDER BY day, crm_source"""
        else:
            statement = f"""
                WITH d AS ({runs}),
                r AS (SELECT day, crm_source, seconds,
                             ROW_NUMBER() OVER (PARTITION BY day, crm_source ORDER BY seconds) AS rn,
                             COUNT(*) OVER (PARTITION BY day, crm_source) AS n FROM d)
                SELECT day, crm_source,
                       MIN(CASE WHEN rn >= 0.5 * n THEN seconds END) AS p50,
                       MIN(CASE WHEN rn >= 0.95 * n THEN seconds END) AS p95,
                       MAX(n) AS runs
                FROM r GROUP BY day, crm_source ORDER BY day, crm_source"""
        return b.frame(statement)


def records_by_crm(db: Connectable, start: datetime, end: datetime, crm_sources=(), sync_types=()) -> pd.DataFrame:
    """Records processed per CRM in the window (NULL counts as 0), largest first."""
    with connect(db) as conn:
        b = Binds(conn)
        where = _window(b, start, end, crm_sources, sync_types)
        return b.frame(f"""
            SELECT crm_source, COALESCE(SUM(records_processed), 0) AS records
            FROM {table(conn, 'sync_history')} WHERE {where}
            GROUP BY crm_source ORDER BY records DESC, crm_source""")


def success_rate_by_day(db: Connectable, start: datetime, end: datetime, crm_sources=(),
                        sync_types=()) -> pd.DataFrame:
    """Per day: completed, failed, partial, and the success rate (0 when nothing finished)."""
    with connect(db) as conn:
        b = Binds(conn)
        where = _window(b, start, end, crm_sources, sync_types)
        return b.frame(f"""
            SELECT day, completed, failed, partial,
                   CASE WHEN completed + failed = 0 THEN 0
                        ELSE ROUND(CAST(completed * 100.0 / (completed + failed) AS NUMERIC), 2) END AS success_rate
            FROM (SELECT {day_sql(conn)} AS day,
                         COUNT(*) FILTER (WHERE status = 'success') AS completed,
                         COUNT(*) FILTER (WHERE status = 'failed') AS failed,
                         COUNT(*) FILTER (WHERE status = 'partial') AS partial
                  FROM {table(conn, 'sync_history')} WHERE {where} GROUP BY 1) per_day
            ORDER BY day""")


def runs_per_day(db: Connectable, start: datetime, end: datetime, crm_sources=(), sync_types=()) -> pd.DataFrame:
    """Per day and CRM: how many runs started."""
    with connect(db) as conn:
        b = Binds(conn)
        where = _window(b, start, end, crm_sources, sync_types)
        return b.frame(f"""
            SELECT {day_sql(conn)} AS day, crm_source, COUNT(*) AS runs
            FROM {table(conn, 'sync_history')} WHERE {where}
            GROUP BY 1, 2 ORDER BY 1, 2""")


def throughput(db: Connectable, start: datetime, end: datetime, crm_sources=(), sync_types=()) -> pd.DataFrame:
    """Per CRM and sync type: records per second over finished runs with a duration above 0
    (total records / total seconds), with the run count."""
    with connect(db) as conn:
        b = Binds(conn)
        where = _window(b, start, end, crm_sources, sync_types)
        seconds = duration_sql(conn)
        return b.frame(f"""
            SELECT crm_source, sync_type,
                   SUM(COALESCE(records_processed, 0)) / SUM({seconds}) AS records_per_second,
                   COUNT(*) AS runs
            FROM {table(conn, 'sync_history')}
            WHERE {where} AND end_time IS NOT NULL AND {seconds} > 0
            GROUP BY crm_source, sync_type ORDER BY records_per_second DESC""")
