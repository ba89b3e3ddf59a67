"""The timeline's events read from the app's own tables: breaker transitions, bursts of HTTP 429s
and retries. Each reader returns at most ``limit`` newest events at [start, end) and ``total``,
the count of all of them (the same on every row), like ``queries.timeline``'s readers.

- ``breaker_opened`` / ``breaker_closed``: a ``circuit_breaker_events`` row whose ``to_state`` is
  ``open`` / ``closed`` (transitions to ``half_open`` are no events).
- ``rate_limited``: a burst of 429s of one CRM: its 429s (``api_calls.status_code = 429``, read
  through the partial index ``api_calls_throttled``) less than ``BURST_GAP`` apart. One event at
  the burst's first call with ``calls`` (its 429s) and ``until`` (its last). A burst that began
  before the window (a 429 within ``BURST_GAP`` before its start) was an event before it; a
  burst still going on at the window's end counts its calls up to the end.
- ``retry_queued`` (an attempt queued, by whom), ``retry_resolved`` (an attempt that succeeded, at
  its end), ``retry_abandoned`` (an operation whose last allowed attempt failed: state
  ``abandoned``, at its end). ``run_id`` is the failed run being retried.

Breakers and 429s belong to a CRM, not a sync type: a ``sync_type`` filter leaves them out.
Before the app's tables exist: no events.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from queries._sql import Binds, Connectable, app_db, app_table, app_tables_exist, app_times, connect

BREAKER_KINDS = ("breaker_opened", "breaker_closed")
RATE_KINDS = ("rate_limited",)
RETRY_KINDS = ("retry_queued", "retry_resolved", "retry_abandoned")
BREAKER_COLUMNS = ["kind", "event_id", "breaker", "crm_source", "failure_count", "reason", "run_id", "at", "total"]
RATE_COLUMNS = ["kind", "crm_source", "at", "until", "calls", "total"]
RETRY_COLUMNS = ["kind", "crm_source", "sync_type", "run_id", "attempt", "max_attempts", "actor", "retry_run_id",
                 "error", "at", "total"]
BURST_GAP = timedelta(minutes=5)
REASON_CHARS = 300  # of a breaker's reason or a retry's error, in the event


def breaker_events(db: Connectable, start: datetime, end: datetime, kinds: tuple[str, ...] = BREAKER_KINDS,
                   crm_sources: tuple[str, ...] = (), sync_types: tuple[str, ...] = (),
                   limit: int = 200) -> pd.DataFrame:
    """Breakers opened and closed at [start, end): kind, event_id, breaker, crm_source, failure_count,
    reason (its first REASON_CHARS characters), run_id (the run it happened in, else NULL), at."""
    kinds = tuple(k for k in kinds if k in BREAKER_KINDS)
    if not kinds or sync_types or not app_tables_exist(db, "circuit_breaker_events"):
        return pd.DataFrame(columns=BREAKER_COLUMNS)
    states = tuple("open" if k == "breaker_opened" else "closed" for k in kinds)
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        e = app_table(conn, "circuit_breaker_events")
        where = [f"occurred_at >= {b.bind_app_time(start)}", f"occurred_at < {b.bind_app_time(end)}",
                 b.in_list("to_state", states)]
        if crm_sources:
            where.append(b.in_list("crm_source", crm_sources))
        statement = f"""
            SELECT CASE WHEN to_state = 'open' THEN 'breaker_opened' ELSE 'breaker_closed' END AS kind,
                   id AS event_id, breaker, crm_source, failure_count, SUBSTR(reason, 1, {REASON_CHARS}) AS reason,
                   sync_run_id AS run_id, occurred_at AS at, COUNT(*) OVER () AS total
            FROM {e} WHERE {' AND '.join(where)}
            ORDER BY occurred_at DESC, id DESC LIMIT {_limit(limit)}"""
        return app_times(b.frame(statement), ("at",))


def rate_limited_events(db: Connectable, start: datetime, end: datetime, kinds: tuple[str, ...] = RATE_KINDS,
                        crm_sources: tuple[str, ...] = (), sync_types: tuple[str, ...] = (),
                        limit: int = 200) -> pd.DataFrame:
    """Bursts of 429s that began at [start, end): kind, crm_source, at (the first 429), until (the
    last, up to the window's end), calls (the burst's 429s). Gaps and islands in SQL: a 429 less
    than BURST_GAP after the CRM's previous one continues its burst."""
    if "rate_limited" not in kinds or sync_types or not app_tables_exist(db, "api_calls"):
        return pd.DataFrame(columns=RATE_COLUMNS)
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        c = app_table(conn, "api_calls")
        low, high = b.bind_app_time(start), b.bind_app_time(end)
        try:
            before = b.bind_app_time(start - BURST_GAP)
        except OverflowError:  # a window from the first minutes of year 1: nothing is before it
            before = low
        narrowed = f" AND {b.in_list('crm_source', crm_sources)}" if crm_sources else ""
        statement = f"""
            WITH throttled AS (
                SELECT crm_source, called_at,
                       LAG(called_at) OVER (PARTITION BY crm_source ORDER BY called_at, id) AS previous
                FROM {c} WHERE status_code = 429 AND called_at >= {low} AND called_at < {high}{narrowed}),
            marked AS (
                SELECT crm_source, called_at,
                       CASE WHEN previous IS NULL OR NOT {_within(b, 'called_at', 'previous')} THEN 1 ELSE 0 END
                           AS starts
                FROM throttled),
            numbered AS (
                SELECT crm_source, called_at, starts,
                       SUM(starts) OVER (PARTITION BY crm_source ORDER BY called_at
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS burst
                FROM marked),
            bursts AS (
                SELECT crm_source, burst, MIN(called_at) AS at, MAX(called_at) AS until, COUNT(*) AS calls
                FROM numbered GROUP BY crm_source, burst)
            SELECT 'rate_limited' AS kind, crm_source, at, until, calls, COUNT(*) OVER () AS total
            FROM bursts s
            WHERE NOT (s.burst = 1 AND EXISTS (
                SELECT 1 FROM {c} x WHERE x.status_code = 429 AND x.crm_source = s.crm_source
                AND x.called_at >= {before} AND x.called_at < {low} AND {_within(b, 's.at', 'x.called_at')}))
            ORDER BY at DESC, crm_source LIMIT {_limit(limit)}"""
        return app_times(b.frame(statement), ("at", "until"))


def _within(b: Binds, later: str, earlier: str) -> str:
    """SQL: ``later`` comes less than BURST_GAP after ``earlier`` (both naive UTC app times)."""
    seconds = int(BURST_GAP.total_seconds())
    if b.postgres:
        return f"({later} - {earlier} < INTERVAL '{seconds} seconds')"
    return f"(ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3) < {seconds})"


def retry_events(db: Connectable, start: datetime, end: datetime, kinds: tuple[str, ...] = RETRY_KINDS,
                 crm_sources: tuple[str, ...] = (), sync_types: tuple[str, ...] = (),
                 limit: int = 200) -> pd.DataFrame:
    """Retries at [start, end): kind, crm_source, sync_type (the operation's), run_id (the failed
    run retried), attempt, max_attempts (abandoned), actor (who queued it), retry_run_id (the run a
    resolved retry recorded), error (an abandoned operation's last, bounded), at."""
    kinds = tuple(k for k in kinds if k in RETRY_KINDS)
    if not kinds or not app_tables_exist(db, "operation_attempts"):
        return pd.DataFrame(columns=RETRY_COLUMNS)
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        a, o = app_table(conn, "operation_attempts"), app_table(conn, "failed_operations")
        low, high = b.bind_app_time(start), b.bind_app_time(end)
        narrowed = ""
        if crm_sources:
            narrowed += f" AND {b.in_list('o.crm_source', crm_sources)}"
        if sync_types:
            narrowed += f" AND {b.in_list('o.operation_type', sync_types)}"
        parts = []
        if "retry_queued" in kinds:
            parts.append(f"""
                SELECT 'retry_queued' AS kind, o.crm_source, o.operation_type AS sync_type, a.sync_id AS run_id,
                       a.attempt, CAST(NULL AS INTEGER) AS max_attempts, a.requested_by AS actor,
                       CAST(NULL AS BIGINT) AS retry_run_id, CAST(NULL AS TEXT) AS error, a.queued_at AS at
                FROM {a} a LEFT JOIN {o} o ON o.sync_id = a.sync_id
                WHERE a.queued_at >= {low} AND a.queued_at < {high}{narrowed}""")
        if "retry_resolved" in kinds:
            parts.append(f"""
                SELECT 'retry_resolved', o.crm_source, o.operation_type, a.sync_id, a.attempt, CAST(NULL AS INTEGER),
                       a.requested_by, a.run_id, CAST(NULL AS TEXT), a.finished_at
                FROM {a} a LEFT JOIN {o} o ON o.sync_id = a.sync_id
                WHERE a.state = 'resolved' AND a.finished_at >= {low} AND a.finished_at < {high}{narrowed}""")
        if "retry_abandoned" in kinds:
            parts.append(f"""
                SELECT 'retry_abandoned', o.crm_source, o.operation_type, o.sync_id, o.attempts, o.max_attempts,
                       CAST(NULL AS TEXT), CAST(NULL AS BIGINT), SUBSTR(o.last_error, 1, {REASON_CHARS}), o.finished_at
                FROM {o} o
                WHERE o.state = 'abandoned' AND o.finished_at >= {low} AND o.finished_at < {high}{narrowed}""")
        statement = f"""
            WITH events (kind, crm_source, sync_type, run_id, attempt, max_attempts, actor, retry_run_id, error, at)
            AS ({' UNION ALL '.join(parts)})
            SELECT kind, crm_source, sync_type, run_id, attempt, max_attempts, actor, retry_run_id, error, at,
                   COUNT(*) OVER () AS total
            FROM events ORDER BY at DESC, run_id DESC, kind LIMIT {_limit(limit)}"""
        return app_times(b.frame(statement), ("at",))


def _limit(limit: int) -> int:
    return max(1, int(limit))
