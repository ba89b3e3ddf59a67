"""The timeline's events in a window, newest first: incidents from the runs (``incident_events``)
and alert events from the app's alerts table (``alert_events``).

An incident of a (crm_source, sync_type) pair starts with its first failed or partial run after a
success (at that run's start) and is resolved by the next success (at its end). Runs of no finished
class (running, unknown statuses) take no part. To see an incident that started before the window
but was resolved inside it, the runs are read from the pair's last success that ended before the
window: the pairs come from a skip scan of the (crm_source, sync_type) index (``choices.PAIRS_CTE``)
and each pair's anchor is one backward read of the start_time index from the window's start
(``ORDER BY start_time DESC LIMIT 1``), not a scan of every earlier success. The runs are the
window's (a start_time range) and, apart, each pair's from its anchor to the window's start (a
range from the oldest anchor): a bound the planner can use, so a day's timeline reads about a day
of runs, not everything before the window.
Each reader returns at most ``limit`` newest events and the count of all of them,
so the caller can merge the two lists and page them.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries import outcomes, scope
from queries._sql import (
    Binds,
    Connectable,
    app_db,
    app_table,
    app_tables_exist,
    app_times,
    connect,
    duration_sql,
    table,
    without_jit,
)
from queries.choices import PAIRS_CTE
from queries.health_changes import KINDS as HEALTH_KINDS
from queries.scope import escape_like
from queries.timeline_app import BREAKER_KINDS, RATE_KINDS, RETRY_KINDS
from queries.timeline_late import LATE_KINDS

RUN_KINDS = ("incident_started", "incident_resolved")
ALERT_KINDS = ("alert_fired", "alert_acknowledged", "alert_resolved")
KINDS = RUN_KINDS + LATE_KINDS + ALERT_KINDS + BREAKER_KINDS + RATE_KINDS + RETRY_KINDS + HEALTH_KINDS
RUN_COLUMNS = ["kind", "crm_source", "sync_type", "at", "run_id", "incident_seconds", "runs_lost", "failed_at",
               "started_at", "total"]
ALERT_COLUMNS = ["kind", "alert_id", "rule", "subject", "severity", "alert_summary", "actor", "at", "total"]


def incident_events(db: Connectable, start: datetime, end: datetime, kinds: tuple[str, ...] = RUN_KINDS,
                    crm_sources: tuple[str, ...] = (), sync_types: tuple[str, ...] = (),
                    limit: int = 200) -> pd.DataFrame:
    """The ``limit`` newest incident events at [start, end): kind, crm_source, sync_type, at (UTC),
    run_id (the first failed run; the resolving success), failed_at (started only: when that run
    ended, so the failure was known), incident_seconds, runs_lost and started_at (resolved only: the
    start of the incident it ends; a pair's runs may overlap, so incidents may too), and ``total``,
    the count of all the events (the same on every row)."""
    kinds = tuple(k for k in kinds if k in RUN_KINDS)
    if not kinds:
        return pd.DataFrame(columns=RUN_COLUMNS)
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        success = outcomes.in_class(conn, "success", column="h.status")
        finished = outcomes.in_class(conn, *outcomes.FINISHED, column="h.status")
        pairs = scope.runs(b, crm_sources=crm_sources, sync_types=sync_types, alias="h.")
        narrowed = "".join(f" AND {condition}" for condition in pairs)
        low, high = b.bind(start), b.bind(end)
        without_jit(conn)
        # a pair's number partitions the runs (sorting narrow rows by an integer is faster than by two
        # texts); a run whose CRM or sync type is NULL has no number and carries its keys (c, t)
        pair = "n, c, t"
        statement = f"""
            {PAIRS_CTE.format(h=h)},
            anchor AS (
                SELECT ROW_NUMBER() OVER () AS n, p.c AS crm_source, p.t AS sync_type, (
                    SELECT h.start_time FROM {h} h
                    WHERE h.crm_source = p.c AND h.sync_type = p.t AND {success}
                      AND h.start_time < {low} AND h.end_time < {low}{narrowed}
                    ORDER BY h.start_time DESC LIMIT 1) AS since
                FROM pairs p WHERE p.c IS NOT NULL AND p.t IS NOT NULL),
            runs AS (
                SELECT a.n, CASE WHEN a.n IS NULL THEN h.crm_source END AS c,
                       CASE WHEN a.n IS NULL THEN h.sync_type END AS t, h.id, h.start_time, h.end_time,
                       CASE WHEN {success} THEN 1 ELSE 0 END AS ok
                FROM {h} h LEFT JOIN anchor a ON a.crm_source = h.crm_source AND a.sync_type = h.sync_type
                WHERE {finished} AND h.start_time >= {low} AND h.start_time < {high}{narrowed}
                UNION ALL
                SELECT a.n, NULL, NULL, h.id, h.start_time, h.end_time, CASE WHEN {success} THEN 1 ELSE 0 END
                FROM {h} h JOIN anchor a ON a.crm_source = h.crm_source AND a.sync_type = h.sync_type
                WHERE {finished} AND h.start_time >= a.since AND h.start_time < {low}{narrowed}
                  AND h.start_time >= (SELECT MIN(since) FROM anchor)),
            marked AS (
                SELECT r.*, ROW_NUMBER() OVER w AS nth,
                       CASE WHEN ok = 0 AND LAG(ok) OVER w = 1 THEN 1 ELSE 0 END AS opens,
                       CASE WHEN ok = 1 AND LAG(ok) OVER w = 0 THEN 1 ELSE 0 END AS closes
                FROM runs r WINDOW w AS (PARTITION BY {pair} ORDER BY start_time, id)),
            opened AS (
                SELECT m.*, MAX(CASE WHEN opens = 1 THEN start_time END) OVER w AS open_start,
                       MAX(CASE WHEN opens = 1 THEN nth END) OVER w AS open_nth
                FROM marked m WINDOW w AS (PARTITION BY {pair} ORDER BY start_time, id)),
            events AS (
                SELECT CASE WHEN opens = 1 THEN 'incident_started' ELSE 'incident_resolved' END AS kind,
                       COALESCE(a.crm_source, o.c) AS crm_source, COALESCE(a.sync_type, o.t) AS sync_type,
                       CASE WHEN opens = 1 THEN start_time ELSE end_time END AS at,
                       id AS run_id,
                       CASE WHEN opens = 0 THEN {duration_sql(conn).replace("start_time", "open_start")} END
                           AS incident_seconds,
                       CASE WHEN opens = 0 THEN nth - open_nth END AS runs_lost,
                       CASE WHEN opens = 1 THEN end_time END AS failed_at,
                       CASE WHEN opens = 0 THEN open_start END AS started_at
                FROM opened o LEFT JOIN anchor a ON a.n = o.n
                WHERE (opens = 1 AND start_time >= {low} AND start_time < {high})
                   OR (closes = 1 AND open_start IS NOT NULL AND end_time >= {low} AND end_time < {high}))
            SELECT kind, crm_source, sync_type, at, run_id, incident_seconds, runs_lost, failed_at, started_at,
                   COUNT(*) OVER () AS total
            FROM events WHERE {_kind_in(kinds)}
            ORDER BY at DESC, run_id DESC, kind LIMIT {max(1, int(limit))}"""
        return b.frame(statement, times=("at", "failed_at", "started_at"))


def alert_events(db: Connectable, start: datetime, end: datetime, kinds: tuple[str, ...] = ALERT_KINDS,
                 crm_sources: tuple[str, ...] = (), sync_types: tuple[str, ...] = (),
                 limit: int = 200) -> pd.DataFrame:
    """The ``limit`` newest alert events at [start, end): kind, alert_id, rule, subject, severity,
    alert_summary, actor (who acknowledged or resolved it), at (UTC) and ``total``. A CRM or sync
    type narrows by the alert's subject (``crm``, ``crm/sync_type...``, ``crm endpoint``). Before
    the app's tables exist: no events."""
    kinds = tuple(k for k in kinds if k in ALERT_KINDS)
    if not kinds or not app_tables_exist(db, "alerts"):
        return pd.DataFrame(columns=ALERT_COLUMNS)
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        a = app_table(conn, "alerts")
        low, high = b.bind_app_time(start), b.bind_app_time(end)
        where = [f"at >= {low}", f"at < {high}", _kind_in(kinds)]
        where += _subject_conditions(b, crm_sources, sync_types)
        columns = "id AS alert_id, rule, subject, severity, summary AS alert_summary"
        statement = f"""
            WITH events AS (
                SELECT 'alert_fired' AS kind, {columns}, NULL AS actor, fired_at AS at FROM {a}
                UNION ALL
                SELECT 'alert_acknowledged', {columns}, acknowledged_by, acknowledged_at FROM {a}
                WHERE acknowledged_at IS NOT NULL
                UNION ALL
                SELECT 'alert_resolved', {columns}, resolved_by, resolved_at FROM {a} WHERE resolved_at IS NOT NULL)
            SELECT kind, alert_id, rule, subject, severity, alert_summary, actor, at, COUNT(*) OVER () AS total
            FROM events WHERE {' AND '.join(where)}
            ORDER BY at DESC, alert_id DESC, kind LIMIT {max(1, int(limit))}"""
        return app_times(b.frame(statement), ("at",))


def _kind_in(kinds: tuple[str, ...]) -> str:
    """SQL: the event's kind is one of ``kinds`` (already checked against ``KINDS``)."""
    listed = ", ".join(f"'{k}'" for k in kinds if k in KINDS)
    return f"kind IN ({listed})"


def _subject_conditions(b: Binds, crm_sources: tuple[str, ...], sync_types: tuple[str, ...]) -> list[str]:
    """An alert's subject names its CRM first (``hubspot``, ``hubspot/contacts``, ``hubspot endpoint``)
    and its sync type after a slash (``hubspot/contacts run 12``)."""
    where = []
    if crm_sources:
        where.append("(" + " OR ".join(
            f"subject = {b.bind(crm)} OR {b.like('subject', escape_like(crm) + '/%')} "
            f"OR {b.like('subject', escape_like(crm) + ' %')}" for crm in crm_sources) + ")")
    if sync_types:
        where.append("(" + " OR ".join(
            f"{b.like('subject', '%/' + escape_like(kind))} OR {b.like('subject', '%/' + escape_like(kind) + ' %')}"
            for kind in sync_types) + ")")
    return where
