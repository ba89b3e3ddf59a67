"""The alert rules' SQL over the user's tables: failure rates per CRM, the last success per CRM,
per (CRM, sync type) averages, a pair's recent runs, and the runs still running. Every query is
bounded by a time window or a LIMIT; none reads a whole table."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries import outcomes, run_rollups, scope
from queries._sql import (
    Binds,
    Connectable,
    app_db,
    app_table,
    app_times,
    connect,
    duration_sql,
    known_duration_sql,
    table,
)

MAX_PAIRS = 2000  # (CRM, sync type) pairs read in one statement by recent_finished_pairs


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
            WHERE {scope.where(scope.runs(b, start=since, classes=('success', 'failed')))}
            GROUP BY crm_source""")


def last_success(db: Connectable, since: datetime) -> pd.DataFrame:
    """Per CRM with a success started since ``since``: the latest one's start."""
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT crm_source, MAX(start_time) AS last_success
            FROM {table(conn, 'sync_history')}
            WHERE {scope.where(scope.runs(b, start=since, classes=('success',)))}
            GROUP BY crm_source""", times=("last_success",))


def pair_stats(db: Connectable, since: datetime) -> pd.DataFrame:
    """Per (CRM, sync type) with runs finished since ``since``: how many, and their mean duration.
    From the run rollups for whole hours when they exist (their finished-run counts and duration
    sums are exact), else from the raw table."""
    covered = run_rollups.ready(db)
    if covered is not None:
        rows = run_rollups.window_rows(db, since, None, covered, classes=outcomes.FINISHED)
        sums = rows.groupby(["crm_source", "sync_type"], as_index=False)[["duration_count", "duration_sum"]].sum()
        sums = sums[sums["duration_count"] > 0]
        return pd.DataFrame({"crm_source": sums["crm_source"], "sync_type": sums["sync_type"],
                             "finished": sums["duration_count"].astype("int64"),
                             "avg_seconds": sums["duration_sum"] / sums["duration_count"]}).reset_index(drop=True)
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT crm_source, sync_type, COUNT(*) AS finished, AVG({duration_sql(conn)}) AS avg_seconds
            FROM {table(conn, 'sync_history')}
            WHERE {scope.where(scope.runs(b, start=since, classes=outcomes.FINISHED))} AND {known_duration_sql(conn)}
            GROUP BY crm_source, sync_type""")


def _finished_columns(conn) -> str:
    return (f"id, start_time, {outcomes.class_case(conn)} AS status, records_processed, "
            f"{duration_sql(conn)} AS duration_seconds")


def _finished_since(conn, b: Binds, since: datetime) -> str:
    return f"{scope.where(scope.runs(b, start=since, classes=outcomes.FINISHED))} AND end_time IS NOT NULL"


def recent_finished(db: Connectable, crm_source: str, sync_type: str, since: datetime, limit: int) -> pd.DataFrame:
    """The pair's newest ``limit`` finished runs started since ``since``, newest first."""
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT {_finished_columns(conn)}
            FROM {table(conn, 'sync_history')}
            WHERE crm_source = {b.bind(crm_source)} AND sync_type = {b.bind(sync_type)}
              AND {_finished_since(conn, b, since)}
            ORDER BY start_time DESC, id DESC LIMIT {int(limit)}""", times=("start_time",))


def recent_finished_pairs(db: Connectable, pairs: list[tuple[str, str]], since: datetime,
                          limit: int) -> dict[tuple[str, str], pd.DataFrame]:
    """``recent_finished`` for every pair of ``pairs`` (at most MAX_PAIRS): on PostgreSQL in one
    statement, a LATERAL subquery per pair, so an evaluation pays one round trip, not one per pair."""
    pairs = list(dict.fromkeys(pairs))[:MAX_PAIRS]
    if not pairs:
        return {}
    with connect(db) as conn:
        if conn.dialect.name != "postgresql":
            return {pair: recent_finished(conn, *pair, since, limit) for pair in pairs}
        b = Binds(conn)
        values = ", ".join(f"({b.bind(crm)}, {b.bind(kind)})" for crm, kind in pairs)
        frame = b.frame(f"""
            SELECT p.crm_source AS pair_crm, p.sync_type AS pair_type, r.*
            FROM (VALUES {values}) AS p(crm_source, sync_type)
            CROSS JOIN LATERAL (
                SELECT {_finished_columns(conn)} FROM {table(conn, 'sync_history')} h
                WHERE h.crm_source = p.crm_source AND h.sync_type = p.sync_type AND {_finished_since(conn, b, since)}
                ORDER BY start_time DESC, id DESC LIMIT {int(limit)}) r""", times=("start_time",))
    found = {pair: rows.drop(columns=["pair_crm", "pair_type"]).reset_index(drop=True)
             for pair, rows in frame.groupby(["pair_crm", "pair_type"], sort=False)}
    columns = [c for c in frame.columns if c not in ("pair_crm", "pair_type")]
    return {pair: found.get(pair, pd.DataFrame(columns=columns)) for pair in pairs}


def running(db: Connectable, limit: int = 1000) -> pd.DataFrame:
    """Runs still open (status class running), oldest first."""
    with connect(db) as conn:
        b = Binds(conn)
        return b.frame(f"""
            SELECT id, crm_source, sync_type, start_time FROM {table(conn, 'sync_history')}
            WHERE {outcomes.in_class(conn, 'running')} ORDER BY start_time, id LIMIT {int(limit)}""",
                       times=("start_time",))


ALERT_STATES = ("firing", "resolved")


def _as_of_columns(at: str | None) -> dict[str, str]:
    """The columns of an alert as they were at the bound moment ``at`` (SQL, e.g. ``:p0``), None
    for now: resolved by then, or firing (acknowledged only when acknowledged by then)."""
    if at is None:
        return {c: f"a.{c}" for c in ("state", "resolved_at", "resolved_by", "resolve_note", "acknowledged_by",
                                      "acknowledged_at")}
    resolved = f"(a.state = 'resolved' AND (a.resolved_at IS NULL OR a.resolved_at <= {at}))"
    acked = f"(a.acknowledged_at IS NOT NULL AND a.acknowledged_at <= {at})"
    return {"state": f"CASE WHEN {resolved} THEN 'resolved' ELSE 'firing' END",
            **{c: f"CASE WHEN {resolved} THEN a.{c} END" for c in ("resolved_at", "resolved_by", "resolve_note")},
            **{c: f"CASE WHEN {acked} THEN a.{c} END" for c in ("acknowledged_by", "acknowledged_at")}}


def _firing_at(b: Binds, at: datetime | None) -> tuple[str, dict[str, str]]:
    """A WHERE for the alerts firing at ``at`` (None: now) and their columns then."""
    if at is None:
        return "a.state = 'firing'", _as_of_columns(None)
    moment = b.bind_app_time(at)
    columns = _as_of_columns(moment)
    return f"a.fired_at <= {moment} AND {columns['state']} = 'firing'", columns


def alert_list(db: Connectable, states: tuple[str, ...] = (), severities: tuple[str, ...] = (),
               rules: tuple[str, ...] = (), since: datetime | None = None, limit: int = 500,
               until: datetime | None = None, at: datetime | None = None) -> pd.DataFrame:
    """Alerts fired in [``since``, ``until``) (None: open), newest first, with how their
    notifications went (sent, pending, failed counts, and the latest error of one not sent with its
    channel). Times in the app's tables are naive UTC. ``at``: as they were at that past moment
    (fired by then; state, resolution and acknowledgement then; severity, summary, value, last
    seen and notifications as they are now, the app keeps no earlier)."""
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        where = ["1 = 1"]
        columns = _as_of_columns(None)
        if at is not None:
            moment = b.bind_app_time(at)
            columns = _as_of_columns(moment)
            where.append(f"a.fired_at <= {moment}")
        if states:
            where.append(b.in_list(columns["state"], states))
        if severities:
            where.append(b.in_list("a.severity", severities))
        if rules:
            where.append(b.in_list("a.rule", rules))
        if since is not None:
            where.append(f"a.fired_at >= {b.bind_app_time(since)}")
        if until is not None:
            where.append(f"a.fired_at < {b.bind_app_time(until)}")
        n = app_table(conn, "alert_notifications")
        shown = ", ".join(f"{expression} AS {name}" for name, expression in columns.items())
        frame = b.frame(f"""
            SELECT a.id, a.rule, a.subject, a.severity, a.summary, a.value, a.fired_at, a.last_seen_at, {shown},
                   (SELECT COUNT(*) FROM {n} x WHERE x.alert_id = a.id AND x.status = 'sent') AS sent,
                   (SELECT COUNT(*) FROM {n} x WHERE x.alert_id = a.id AND x.status = 'pending') AS pending,
                   (SELECT COUNT(*) FROM {n} x WHERE x.alert_id = a.id AND x.status = 'failed') AS gave_up,
                   (SELECT x.last_error FROM {n} x WHERE x.alert_id = a.id AND x.status <> 'sent'
                      AND x.last_error IS NOT NULL ORDER BY x.id DESC LIMIT 1) AS send_error,
                   (SELECT x.channel FROM {n} x WHERE x.alert_id = a.id AND x.status <> 'sent'
                      AND x.last_error IS NOT NULL ORDER BY x.id DESC LIMIT 1) AS send_error_channel
            FROM {app_table(conn, 'alerts')} a WHERE {' AND '.join(where)}
            ORDER BY a.fired_at DESC, a.id DESC LIMIT {max(1, min(int(limit), 5000))}""")
    return app_times(frame, ("fired_at", "last_seen_at", "resolved_at", "acknowledged_at"))


def firing_by_acknowledgement(db: Connectable, at: datetime | None = None) -> dict[str, dict[str, int]]:
    """Firing alerts per severity, those nobody has acknowledged yet apart from those someone has:
    ``{"unacknowledged": {"critical": 1}, "acknowledged": {"warning": 2}}`` (the navbar's bell);
    ``at``: those firing at that past moment, acknowledged by then or not."""
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        firing, columns = _firing_at(b, at)
        acked = f"CASE WHEN {columns['acknowledged_by']} IS NULL THEN 0 ELSE 1 END"
        frame = b.frame(f"SELECT a.severity, {acked} AS acked, COUNT(*) AS n FROM {app_table(conn, 'alerts')} a "
                        f"WHERE {firing} GROUP BY a.severity, {acked}")
    counts: dict[str, dict[str, int]] = {"unacknowledged": {}, "acknowledged": {}}
    for severity, ack, n in zip(frame["severity"], frame["acked"], frame["n"], strict=True):
        counts["acknowledged" if int(ack) else "unacknowledged"][str(severity)] = int(n)
    return counts


def firing_count(db: Connectable, at: datetime | None = None) -> dict[str, int]:
    """Firing alerts per severity (the navbar's bell); ``at``: those firing at that past moment."""
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        firing, _ = _firing_at(b, at)
        frame = b.frame(f"SELECT a.severity, COUNT(*) AS n FROM {app_table(conn, 'alerts')} a WHERE {firing}"
                        " GROUP BY a.severity")
    return {str(s): int(n) for s, n in zip(frame["severity"], frame["n"], strict=True)}
