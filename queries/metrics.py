"""The numbers behind ``/metrics``: per (CRM, sync type) over the last 24 hours, the last success
and its duration, runs now running, and the app's firing alerts. Bounded windows only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from queries import outcomes, run_rollups
from queries._sql import Binds, Connectable, app_db, app_table, connect, duration_sql, table
from queries.choices import crm_sync_type_pairs

LAST_SUCCESS_DAYS = 30  # how far back the last success is looked for


def day_counts(db: Connectable, since: datetime) -> pd.DataFrame:
    """Per (CRM, sync type, status class; ``unknown`` for a value in no class): runs started
    since ``since`` and their records processed (from the run rollups for whole hours when they exist)."""
    covered = run_rollups.ready(db)
    if covered is not None:
        rows = run_rollups.run_rows(db, since, None, covered)
        return rows.groupby(["crm_source", "sync_type", "status_class"], as_index=False)[
            ["runs", "records_processed"]].sum().rename(columns={"status_class": "status"})
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT crm_source, sync_type, COALESCE({outcomes.class_case(conn)}, 'unknown') AS status, COUNT(*) AS runs,
                   COALESCE(SUM(records_processed), 0) AS records_processed
            FROM {table(conn, 'sync_history')} WHERE start_time >= {b.bind(since)}
            GROUP BY 1, 2, 3""")


def last_successes(db: Connectable, now: datetime) -> pd.DataFrame:
    """Per (CRM, sync type) with a success in the last LAST_SUCCESS_DAYS: the latest one's start
    and duration. The pairs come from a skip scan; each is one probe down the start_time index."""
    since = now - timedelta(days=LAST_SUCCESS_DAYS)
    rows = []
    with connect(db) as conn:
        h = table(conn, "sync_history")
        for crm, kind in crm_sync_type_pairs(conn):
            b = Binds(conn)
            found = b.frame(f"""
                SELECT start_time, {duration_sql(conn)} AS duration_seconds FROM {h}
                WHERE crm_source = {b.bind(crm)} AND sync_type = {b.bind(kind)} AND {outcomes.in_class(conn, 'success')}
                  AND start_time >= {b.bind(since)}
                ORDER BY start_time DESC LIMIT 1""", times=("start_time",))
            if not found.empty:
                rows.append({"crm_source": crm, "sync_type": kind, **found.iloc[0].to_dict()})
    return pd.DataFrame(rows, columns=["crm_source", "sync_type", "start_time", "duration_seconds"])


def running_counts(db: Connectable) -> pd.DataFrame:
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT crm_source, sync_type, COUNT(*) AS running FROM {table(conn, 'sync_history')}
            WHERE {outcomes.in_class(conn, 'running')} GROUP BY 1, 2""")


def firing_alerts(db: Connectable) -> pd.DataFrame:
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT rule, severity, COUNT(*) AS firing FROM {app_table(conn, 'alerts')}
            WHERE state = 'firing' GROUP BY 1, 2""")
