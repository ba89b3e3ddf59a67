"""The run page's SQL (``/runs/<id>``, ``/api/runs/<id>``): one run's API calls, their summary,
the breaker transitions during it, the alerts that named it or its CRM while it ran, the runs of
the same CRM and sync type before it, and the duration its kind of run usually takes.

Calls are tied to a run by ``sync_run_id`` (``dashapp.recording.run_context``). A run recorded before
that column existed has none: its CRM's uncorrelated calls within its time window stand in,
marked ``correlated = false``. Times in the app's tables are naive UTC; the user's are in the
data zone (``Binds.bind`` converts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from queries import outcomes
from queries._sql import (
    Binds,
    Connectable,
    app_table,
    app_times,
    connect,
    duration_sql,
    known_duration_sql,
    read_frame,
    sql,
    table,
)
from queries.messages import LIST_BOUND, MESSAGE_BOUND, ROW_BOUND, TEXT_BOUND, cut, cut_text

MAX_CALLS = 500  # calls listed on the page (the summary counts them all)
PREVIOUS_RUNS = 20  # runs of the same CRM and type before this one
EXPECTED_FROM = 20  # successful runs the expected duration is taken from
MAX_PAIRS = 200  # (crm_source, sync_type) pairs in one expected_durations call
USUAL_FROM = 200  # finished runs a run without an end takes its usual (p99) duration from


@dataclass(frozen=True)
class CallScope:
    """Which calls belong to a run: by id, or (older runs) the CRM's uncorrelated calls in a window."""

    run_id: int
    crm_source: str
    start: datetime | None  # aware UTC; None (with end): no time window, nothing matched by time
    end: datetime | None  # aware UTC: the run's end, or the bounded end of a run without one
    correlated: bool = True
    until: datetime | None = None  # aware UTC: only calls made by then (the run as of a past moment)


def _scope_where(b: Binds, scope: CallScope, alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    if scope.correlated:
        by_then = "" if scope.until is None else f" AND {p}called_at <= {b.bind_app_time(scope.until)}"
        return f"{p}sync_run_id = {b.bind(int(scope.run_id))}{by_then}"
    if scope.start is None or scope.end is None:
        return "1 = 0"
    return (f"{p}sync_run_id IS NULL AND {p}crm_source = {b.bind(scope.crm_source)} "
            f"AND {p}called_at >= {b.bind_app_time(scope.start)} AND {p}called_at <= {b.bind_app_time(scope.end)}")


RUN_TIMES = ("start_time", "end_time", "created_at")
# The run's texts that can be long, each cut in SQL with its length beside it (queries.messages).
_RUN_TEXTS = {"error_message": (MESSAGE_BOUND, cut), "endpoint": (TEXT_BOUND, cut),
              "configuration": (TEXT_BOUND, cut_text), "performance_metrics": (TEXT_BOUND, cut_text)}


def run_row(db: Connectable, run_id: int) -> dict | None:
    """Every column of one run, or None: times as UTC timestamps; error_message, endpoint,
    configuration and performance_metrics (as JSON text) cut to their bound, each with
    ``<column>_length``, its full length in characters."""
    with connect(db) as conn:
        h = table(conn, "sync_history")
        names = list(conn.execute(sql(f"SELECT * FROM {h} WHERE 1 = 0")).keys())
        items = [_RUN_TEXTS[n][1](n, n, _RUN_TEXTS[n][0]) if n in _RUN_TEXTS else '"' + n.replace('"', '""') + '"'
                 for n in names]
        times = tuple(t for t in RUN_TIMES if t in names)
        frame = read_frame(conn, sql(f"SELECT {', '.join(items)} FROM {h} WHERE id = :id", times=times),
                           {"id": int(run_id)}, times=times)
    return None if frame.empty else frame.iloc[0].to_dict()


def has_correlated_calls(db: Connectable, run_id: int) -> bool:
    """Whether any call names this run (an index lookup on the partial sync_run_id index)."""
    with connect(db) as conn:
        b = Binds(conn)
        frame = b.frame(f"SELECT 1 AS found FROM {app_table(conn, 'api_calls')} "
                        f"WHERE sync_run_id = {b.bind(int(run_id))} LIMIT 1")
    return not frame.empty


def run_calls(db: Connectable, scope: CallScope, limit: int = MAX_CALLS) -> pd.DataFrame:
    """The run's calls in time order (at most ``limit``): called_at, method, endpoint,
    status_code, duration_ms, retries, error (cut to ROW_BOUND characters, with error_length),
    rate_limit_remaining."""
    with connect(db) as conn:
        b = Binds(conn)
        frame = b.frame(f"""
            SELECT called_at, method, SUBSTR(endpoint, 1, {ROW_BOUND}) AS endpoint, status_code, duration_ms, retries,
                   {cut("error", "error", ROW_BOUND)}, rate_limit_remaining
            FROM {app_table(conn, 'api_calls')} WHERE {_scope_where(b, scope)}
            ORDER BY called_at, id LIMIT {max(1, min(int(limit), MAX_CALLS))}""")
    return app_times(frame, ("called_at",))


_COUNTS = """
    COUNT(*) AS calls,
    COUNT(*) FILTER (WHERE status_code < 400) AS ok,
    COUNT(*) FILTER (WHERE status_code >= 400 AND status_code < 500) AS client_errors,
    COUNT(*) FILTER (WHERE status_code >= 500) AS server_errors,
    COUNT(*) FILTER (WHERE status_code IS NULL) AS no_response,
    COUNT(*) FILTER (WHERE status_code = 429) AS throttled,
    MIN(rate_limit_remaining) AS lowest_remaining"""


def calls_summary(db: Connectable, scope: CallScope) -> dict:
    """Over all the run's calls: calls, ok (< 400), client_errors, server_errors, no_response,
    throttled (429s), lowest_remaining (the lowest rate-limit remaining seen), p50_ms, p95_ms
    (percentile_cont on PostgreSQL, nearest rank on SQLite)."""
    with connect(db) as conn:
        b = Binds(conn)
        t = app_table(conn, "api_calls")
        where = _scope_where(b, scope)
        if b.postgres:
            statement = f"""
                SELECT {_COUNTS},
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
                FROM {t} WHERE {where}"""
        else:
            statement = f"""
                WITH r AS (SELECT status_code, duration_ms, rate_limit_remaining,
                                  ROW_NUMBER() OVER (ORDER BY duration_ms) AS rn, COUNT(*) OVER () AS n
                           FROM {t} WHERE {where})
                SELECT {_COUNTS},
                       MIN(CASE WHEN rn >= 0.5 * n THEN duration_ms END) AS p50_ms,
                       MIN(CASE WHEN rn >= 0.95 * n THEN duration_ms END) AS p95_ms
                FROM r"""
        row = b.frame(statement).iloc[0].to_dict()
    return row


def breaker_events(db: Connectable, run_id: int, crm_source: str, start: datetime | None, end: datetime | None,
                   limit: int = 200, until: datetime | None = None) -> pd.DataFrame:
    """Transitions of the CRM's breakers during the run (those the run itself caused, and any
    other of the same CRM in its window; no window: only its own): occurred_at, breaker,
    from_state, to_state, failure_count, reason, correlated. ``until``: only those by then."""
    with connect(db) as conn:
        b = Binds(conn)
        by_then = "" if until is None else f" AND occurred_at <= {b.bind_app_time(until)}"
        in_window = "1 = 0" if start is None or end is None else (
            f"crm_source = {b.bind(crm_source)} AND occurred_at >= {b.bind_app_time(start)} "
            f"AND occurred_at <= {b.bind_app_time(end)}")
        frame = b.frame(f"""
            SELECT occurred_at, breaker, from_state, to_state, failure_count, {cut("reason", "reason", ROW_BOUND)},
                   CASE WHEN sync_run_id = {b.bind(int(run_id))} THEN 1 ELSE 0 END AS correlated
            FROM {app_table(conn, 'circuit_breaker_events')}
            WHERE (sync_run_id = {b.bind(int(run_id))} OR ({in_window})){by_then}
            ORDER BY occurred_at, id LIMIT {max(1, min(int(limit), 1000))}""")
    return app_times(frame, ("occurred_at",))


def run_alerts(db: Connectable, run_id: int, crm_source: str, start: datetime | None, end: datetime | None,
               limit: int = 50) -> pd.DataFrame:
    """Alerts that named this run or its CRM (``crm``, ``crm/type``, ``crm endpoint``, a breaker
    ``crm-...``) and were firing at some moment of the run (no window: none): id, rule, subject,
    severity, summary, state, fired_at, resolved_at."""
    if start is None or end is None:
        return pd.DataFrame(columns=["id", "rule", "subject", "severity", "summary", "summary_length", "state",
                                     "fired_at", "resolved_at"])
    with connect(db) as conn:
        b = Binds(conn)
        crm = crm_source.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        named = " OR ".join([f"subject = {b.bind(crm_source)}",
                             *(f"subject LIKE {b.bind(crm + sep + '%')} ESCAPE '\\'" for sep in ("/", " ", "-")),
                             f"subject LIKE {b.bind('% run ' + str(int(run_id)))}"])
        frame = b.frame(f"""
            SELECT id, rule, subject, severity, {cut("summary", "summary", LIST_BOUND)}, state, fired_at, resolved_at
            FROM {app_table(conn, 'alerts')}
            WHERE ({named}) AND fired_at <= {b.bind_app_time(end)}
              AND (resolved_at IS NULL OR resolved_at >= {b.bind_app_time(start)})
            ORDER BY fired_at DESC, id DESC LIMIT {max(1, min(int(limit), 200))}""")
    return app_times(frame, ("fired_at", "resolved_at"))


def previous_runs(db: Connectable, crm_source: str, sync_type: str, run_id: int, start: datetime,
                  limit: int = PREVIOUS_RUNS) -> pd.DataFrame:
    """The ``limit`` runs of the same CRM and sync type that started before this one, newest
    first: id, status, start_time, end_time, duration_seconds, records_processed, error_message
    (its first ROW_BOUND characters, with error_message_length)."""
    with connect(db) as conn:
        b = Binds(conn)
        at = b.bind(start)
        return b.frame(f"""
            SELECT id, status, start_time, end_time, {duration_sql(conn)} AS duration_seconds, records_processed,
                   {cut("error_message", "error_message", ROW_BOUND)}
            FROM {table(conn, 'sync_history')}
            WHERE crm_source = {b.bind(crm_source)} AND sync_type = {b.bind(sync_type)}
              AND start_time <= {at} AND (start_time < {at} OR id < {b.bind(int(run_id))})
            ORDER BY start_time DESC, id DESC LIMIT {max(1, min(int(limit), 100))}""",
            times=("start_time", "end_time"))


def last_success(db: Connectable, crm_source: str, sync_type: str, start: datetime,
                 ended_by: datetime | None = None) -> dict | None:
    """The latest successful run of the same CRM and type that started before ``start`` (and, as
    of a moment, had ended by ``ended_by``): id, start_time, end_time, or None."""
    with connect(db) as conn:
        b = Binds(conn)
        by_then = "" if ended_by is None else f" AND end_time <= {b.bind(ended_by)}"
        frame = b.frame(f"""
            SELECT id, start_time, end_time FROM {table(conn, 'sync_history')}
            WHERE crm_source = {b.bind(crm_source)} AND sync_type = {b.bind(sync_type)}
              AND {outcomes.in_class(conn, 'success')} AND start_time < {b.bind(start)}{by_then}
            ORDER BY start_time DESC, id DESC LIMIT 1""", times=("start_time", "end_time"))
    return None if frame.empty else frame.iloc[0].to_dict()


def expected_durations(db: Connectable, pairs: list[tuple[str, str]], runs: int = EXPECTED_FROM,
                       ended_by: datetime | None = None) -> pd.DataFrame:
    """For each (crm_source, sync_type) pair, the median and p95 duration in seconds of its last
    ``runs`` successful runs, in one statement: crm_source, sync_type, median_seconds, p95_seconds,
    runs. Pairs without a successful run are absent. ``ended_by``: only runs that had ended by then.
    On PostgreSQL each pair reads its newest
    successes through an index (LATERAL ... LIMIT); on SQLite, a window over the pairs' successes."""
    pairs = sorted(set(pairs))[:MAX_PAIRS]
    if not pairs:
        return pd.DataFrame(columns=["crm_source", "sync_type", "median_seconds", "p95_seconds", "runs"])
    runs = max(1, min(int(runs), 1000))
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        ok = outcomes.in_class(conn, "success", column="h.status")
        known = known_duration_sql(conn, "h.")
        if ended_by is not None:
            known += f" AND h.end_time <= {b.bind(ended_by)}"
        if b.postgres:
            values = ", ".join(f"({b.bind(c)}, {b.bind(t)})" for c, t in pairs)
            return b.frame(f"""
                SELECT p.crm_source, p.sync_type,
                       {_cont(0.5)} AS median_seconds, {_cont(0.95)} AS p95_seconds,
                       COUNT(*) AS runs
                FROM (VALUES {values}) AS p (crm_source, sync_type)
                CROSS JOIN LATERAL (
                    SELECT EXTRACT(EPOCH FROM (h.end_time - h.start_time)) AS seconds FROM {h} h
                    WHERE h.crm_source = p.crm_source AND h.sync_type = p.sync_type AND {ok}
                      AND {known}
                    ORDER BY h.start_time DESC LIMIT {runs}) s
                GROUP BY p.crm_source, p.sync_type ORDER BY 1, 2""")
        wanted = " OR ".join(f"(h.crm_source = {b.bind(c)} AND h.sync_type = {b.bind(t)})" for c, t in pairs)
        seconds = duration_sql(conn, "h.")
        return b.frame(f"""
            WITH recent AS (
                SELECT h.crm_source, h.sync_type, {seconds} AS seconds,
                       ROW_NUMBER() OVER (PARTITION BY h.crm_source, h.sync_type ORDER BY h.start_time DESC) AS recency
                FROM {h} h WHERE ({wanted}) AND {ok} AND {known}),
            ranked AS (
                SELECT crm_source, sync_type, seconds,
                       ROW_NUMBER() OVER (PARTITION BY crm_source, sync_type ORDER BY seconds) AS rn,
                       COUNT(*) OVER (PARTITION BY crm_source, sync_type) AS n
                FROM recent WHERE recency <= {runs})
            SELECT crm_source, sync_type,
                   {_interpolated(0.5)} AS median_seconds, {_interpolated(0.95)} AS p95_seconds, MAX(n) AS runs
            FROM ranked GROUP BY crm_source, sync_type ORDER BY 1, 2""")


def usual_duration(db: Connectable, crm_source: str, sync_type: str | None, fraction: float = 0.99,
                   runs: int = USUAL_FROM, now: datetime | None = None) -> tuple[float, int] | None:
    """(seconds, runs): the ``fraction`` percentile (percentile_cont) of the durations of the
    latest ``runs`` finished runs (any outcome: an end, both times finite, end not before start,
    and with ``now``, not after it) of ``crm_source`` and ``sync_type`` (None: any of its types);
    None when it has none."""
    runs = max(1, min(int(runs), 1000))
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        kind = "" if sync_type is None else f"AND h.sync_type = {b.bind(sync_type)}"
        kind += "" if now is None else f" AND h.end_time <= {b.bind(now)}"
        seconds = duration_sql(conn, "h.")
        recent = f"""
            SELECT {seconds} AS seconds FROM {h} h
            WHERE h.crm_source = {b.bind(crm_source)} {kind} AND {known_duration_sql(conn, "h.")} AND {seconds} >= 0
            ORDER BY h.start_time DESC LIMIT {runs}"""
        if b.postgres:
            frame = b.frame(f"SELECT {_cont(fraction)} AS seconds, COUNT(*) AS runs FROM ({recent}) s")
        else:
            frame = b.frame(f"""
                WITH s AS ({recent}),
                ranked AS (SELECT seconds, ROW_NUMBER() OVER (ORDER BY seconds) AS rn, COUNT(*) OVER () AS n FROM s)
                SELECT {_interpolated(fraction)} AS seconds, MAX(n) AS runs FROM ranked""")
    row = frame.iloc[0]
    if pd.isna(row["runs"]) or not row["runs"] or pd.isna(row["seconds"]):
        return None
    return max(float(row["seconds"]), 0.0), int(row["runs"])


def _cont(fraction: float) -> str:
    return f"CAST(percentile_cont({fraction}) WITHIN GROUP (ORDER BY s.seconds) AS DOUBLE PRECISION)"


def _interpolated(fraction: float) -> str:
    """percentile_cont for SQLite: linear between the two ranks around 1 + fraction * (n - 1)."""
    position = f"(1 + {fraction} * (n - 1))"
    low, high = f"CAST({position} AS INTEGER)", f"CAST({position} AS INTEGER) + 1"
    return (f"(MAX(CASE WHEN rn = {low} THEN seconds END) + "
            f"({position} - {low}) * (COALESCE(MAX(CASE WHEN rn = {high} THEN seconds END), "
            f"MAX(CASE WHEN rn = {low} THEN seconds END)) - MAX(CASE WHEN rn = {low} THEN seconds END)))")
