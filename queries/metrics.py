"""The numbers behind ``/metrics``: per (CRM, sync type) over the last 24 hours, the last success
and its duration, runs now running, and the app's firing alerts. Bounded windows only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from queries import outcomes, run_rollups, scope
from queries._sql import Binds, Connectable, app_db, app_table, connect, duration_sql, table
from queries.choices import crm_sync_type_pairs

LAST_SUCCESS_DAYS = 30  # how far back the last success is looked for


def day_counts(db: Connectable, since: datetime) -> pd.DataFrame:
    """Per (CRM, sync type, status class; ``unknown`` for a value in no class): runs started
    since ``since`` and their records processed. With the run rollups, through
    ``run_rollups.window_rows``: their whole hours, and the raw table for the edges, the hours a
    late run made dirty and the times the rollups do not hold."""
    columns = ["crm_source", "sync_type", "status", "runs", "records_processed"]
    covered = run_rollups.ready(db)
    if covered is not None:
        rows = run_rollups.window_rows(db, since, None, covered)
        if rows.empty:
            return pd.DataFrame(columns=columns)
        rows = rows.rename(columns={"status_class": "status"})
        return rows.groupby(["crm_source", "sync_type", "status"], as_index=False, dropna=False)[
            ["runs", "records_processed"]].sum()[columns]
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT crm_source, sync_type, COALESCE({outcomes.class_case(conn)}, 'unknown') AS status, COUNT(*) AS runs,
                   COALESCE(SUM(records_processed), 0) AS records_processed
            FROM {table(conn, 'sync_history')} WHERE {scope.where(scope.runs(b, start=since))}
            GROUP BY 1, 2, 3""")


RECENT_HOURS = 2  # one statement finds the last success of every pair that had one this recently


def last_successes(db: Connectable, now: datetime) -> pd.DataFrame:
    """Per (CRM, sync type) with a success in the last LAST_SUCCESS_DAYS: the latest one's start
    and duration. One statement over the last RECENT_HOURS answers the pairs that succeeded
    since (on a busy warehouse, all of them); each other pair (from a skip scan) is one probe down
    the start_time index."""
    since = now - timedelta(days=LAST_SUCCESS_DAYS)
    rows = []
    with connect(db) as conn:
        h = table(conn, "sync_history")
        b = Binds(conn)
        # the latest start per pair by hashing (no sort of the window's rows), then that run's
        # duration by one probe of the start_time index per pair
        recent = b.frame(f"""
            WITH latest AS (
                SELECT crm_source, sync_type, MAX(start_time) AS start_time FROM {h}
                WHERE {scope.where(scope.runs(b, start=now - timedelta(hours=RECENT_HOURS), classes=('success',)))}
                GROUP BY crm_source, sync_type)
            SELECT l.crm_source, l.sync_type, l.start_time,
                   (SELECT {duration_sql(conn)} FROM {h} x
                    WHERE x.start_time = l.start_time AND x.crm_source = l.crm_source AND x.sync_type = l.sync_type
                      AND {outcomes.in_class(conn, 'success')}
                    ORDER BY x.id DESC LIMIT 1) AS duration_seconds
            FROM latest l""", times=("start_time",))
        rows = recent.to_dict("records")
        found = {(r["crm_source"], r["sync_type"]) for r in rows}
        for crm, kind in crm_sync_type_pairs(conn):
            if (crm, kind) in found:
                continue
            b = Binds(conn)
            probe = b.frame(f"""
                SELECT start_time, {duration_sql(conn)} AS duration_seconds FROM {h}
                WHERE {scope.where(scope.runs(b, start=since, crm_sources=(crm,), sync_types=(kind,),
                                              classes=('success',)))}
                ORDER BY start_time DESC LIMIT 1""", times=("start_time",))
            if not probe.empty:
                rows.append({"crm_source": crm, "sync_type": kind, **probe.iloc[0].to_dict()})
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
