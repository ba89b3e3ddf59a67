"""The alert rules' SQL over the user's tables: failure rates per CRM, the last success per CRM,
per (CRM, sync type) averages, a pair's recent runs, and the runs still running. Every query is
bounded by a time window or a LIMIT; none reads a whole table."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries import outcomes
from queries._sql import Binds, Connectable, app_db, app_table, app_times, connect, duration_sql, table


def run_rates(db: Connectable, since: datetime) -> pd.DataFrame:
    """Per CRM, runs started since ``since`` that succeeded or failed (``queries.outcomes``: the
    rates' denominator; partial runs are not in it): finished, failed, succeeded."""
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT crm_source, COUNT(*) AS finished,
                   SUM(CASE WHEN {outcomes.in_class(conn, 'failed')} THEN 1 ELSE 0 END) AS failed,
                   SUM(CASE WHEN {outcomes.in_class(conn, 'success')} THEN 1 ELSE 0 END) AS succeeded
            FROM {table(conn, 'sync_history')}
            WHERE start_time >= {b.bind(since)} AND {outcomes.in_class(conn, 'success', 'failed')}
            GROUP BY crm_source""")


def last_success(db: Connectable, since: datetime) -> pd.DataFrame:
    """Per CRM with a success started since ``since``: the latest one's start."""
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT crm_source, MAX(start_time) AS last_success
            FROM {table(conn, 'sync_history')}
            WHERE start_time >= {b.bind(since)} AND {outcomes.in_class(conn, 'success')}
            GROUP BY crm_source""", times=("last_success",))


def pair_stats(db: Connectable, since: datetime) -> pd.DataFrame:
    """Per (CRM, sync type) with runs finished since ``since``: how many, and their mean duration."""
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT crm_source, sync_type, COUNT(*) AS finished, AVG({duration_sql(conn)}) AS avg_seconds
            FROM {table(conn, 'sync_history')}
            WHERE start_time >= {b.bind(since)} AND end_time IS NOT NULL
              AND {outcomes.in_class(conn, *outcomes.FINISHED)}
            GROUP BY crm_source, sync_type""")


def recent_finished(db: Connectable, crm_source: str, sync_type: str, since: datetime, limit: int) -> pd.DataFrame:
    """The pair's newest ``limit`` finished runs started since ``since``, newest first."""
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT id, start_time, {outcomes.class_case(conn)} AS status, records_processed,
                   {duration_sql(conn)} AS duration_seconds
            FROM {table(conn, 'sync_history')}
            WHERE crm_source = {b.bind(crm_source)} AND sync_type = {b.bind(sync_type)}
              AND start_time >= {b.bind(since)} AND end_time IS NOT NULL
              AND {outcomes.in_class(conn, *outcomes.FINISHED)}
            ORDER BY start_time DESC, id DESC LIMIT {int(limit)}""", times=("start_time",))


def running(db: Connectable, limit: int = 1000) -> pd.DataFrame:
    """Runs still open (status class running), oldest first."""
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT id, crm_source, sync_type, start_time FROM {table(conn, 'sync_history')}
            WHERE {outcomes.in_class(conn, 'running')} ORDER BY start_time, id LIMIT {int(limit)}""",
                       times=("start_time",))


ALERT_STATES = ("firing", "resolved")


def alert_list(db: Connectable, states: tuple[str, ...] = (), severities: tuple[str, ...] = (),
               rules: tuple[str, ...] = (), since: datetime | None = None, limit: int = 500) -> pd.DataFrame:
    """Alerts, newest first, with how their notifications went (sent, pending, failed counts and
    the latest error). Times in the app's tables are naive UTC."""
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        where = ["1 = 1"]
        if states:
            where.append(b.in_list("a.state", states))
        if severities:
            where.append(b.in_list("a.severity", severities))
        if rules:
            where.append(b.in_list("a.rule", rules))
        if since is not None:
            where.append(f"a.fired_at >= {b.bind_app_time(since)}")
        n = app_table(conn, "alert_notifications")
        frame = b.frame(f"""
            SELECT a.id, a.rule, a.subject, a.severity, a.summary, a.value, a.state, a.fired_at, a.last_seen_at,
                   a.resolved_at, a.resolved_by, a.resolve_note, a.acknowledged_by, a.acknowledged_at,
                   (SELECT COUNT(*) FROM {n} x WHERE x.alert_id = a.id AND x.status = 'sent') AS sent,
                   (SELECT COUNT(*) FROM {n} x WHERE x.alert_id = a.id AND x.status = 'pending') AS pending,
                   (SELECT COUNT(*) FROM {n} x WHERE x.alert_id = a.id AND x.status = 'failed') AS gave_up,
                   (SELECT MAX(x.last_error) FROM {n} x WHERE x.alert_id = a.id AND x.status <> 'sent') AS send_error
            FROM {app_table(conn, 'alerts')} a WHERE {' AND '.join(where)}
            ORDER BY a.fired_at DESC, a.id DESC LIMIT {max(1, min(int(limit), 5000))}""")
    return app_times(frame, ("fired_at", "last_seen_at", "resolved_at", "acknowledged_at"))


def firing_count(db: Connectable) -> dict[str, int]:
    """Firing alerts per severity (the navbar's bell)."""
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        frame = b.frame(f"SELECT severity, COUNT(*) AS n FROM {app_table(conn, 'alerts')} WHERE state = 'firing'"
                        " GROUP BY severity")
    return {str(s): int(n) for s, n in zip(frame["severity"], frame["n"], strict=True)}
