"""The API page's SQL over the app's own tables: call statistics, rate limits, breakers.

Latency percentiles are computed in SQL: percentile_cont on PostgreSQL, nearest rank with window
functions on SQLite. Times in the app's tables are naive UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, DateTime, bindparam, inspect, text

from queries import latency_histogram
from queries._sql import Connectable, app_db, app_table, app_tables_exist, connect, to_utc
from queries.latency_histogram import COLUMNS as HISTOGRAM

UTC_ZONE = UTC


def migrated(db: Connectable) -> bool:
    """Whether the app's own tables exist (``python app.py db upgrade`` has run)."""
    return app_tables_exist(db)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _frame(conn: Connection, statement: str, params: dict, times: tuple[str, ...] = ()) -> pd.DataFrame:
    clause = text(statement).bindparams(*(bindparam(k, type_=DateTime()) for k in params
                                          if isinstance(params[k], datetime)))
    if times:
        clause = clause.columns(**{t: DateTime() for t in times})
    result = conn.execute(clause, {k: _naive(v) if isinstance(v, datetime) else v for k, v in params.items()})
    # plain tuples: pandas inspects SQLAlchemy rows one by one (a third of a 20,000-row answer's time)
    frame = pd.DataFrame([tuple(row) for row in result.fetchall()], columns=list(result.keys()))
    for column in times:
        frame[column] = to_utc(frame[column], UTC_ZONE)  # type: ignore[arg-type]
    return frame


ROLLUP_AFTER = timedelta(hours=2)  # longer windows read the per-minute rollup,
HOURS_AFTER = timedelta(days=2)  # and longer still the per-hour one
_SUMS = ("calls", "successes", "client_errors", "server_errors", "no_response", "retries")


def _rollup_table(conn: Connection, start: datetime, end: datetime) -> str | None:
    """The rollup a window reads, or None for the raw calls."""
    if end - start <= ROLLUP_AFTER:
        return None
    name = "api_call_hours" if end - start > HOURS_AFTER else "api_call_minutes"
    if not inspect(conn).has_table(name, schema=conn.get_execution_options().get("app_schema")):
        return None
    return name


def _rollup_source(conn: Connection, start: datetime, end: datetime, columns: str) -> tuple[str, dict]:
    """A subquery of rollup rows (``columns``) covering [start, end) to the minute, and its
    parameters: whole hours from the per-hour rollup, the minutes before and after them from the
    per-minute one (a day's window reads ~24 rows per endpoint and the edges' minutes, not 1,440)."""
    first, end = _naive(_period_start("api_call_minutes", start)), _naive(end)
    h0 = first if first.minute == 0 else first.replace(minute=0) + timedelta(hours=1)
    h1 = end.replace(minute=0, second=0, microsecond=0)
    minutes, hours = app_table(conn, "api_call_minutes"), app_table(conn, "api_call_hours")
    if h0 >= h1:
        return (f"(SELECT {columns} FROM {minutes} WHERE minute >= :first AND minute < :end)",
                {"first": first, "end": end})
    return (f"""(SELECT {columns} FROM {hours} WHERE minute >= :h0 AND minute < :h1
                UNION ALL
                SELECT {columns} FROM {minutes}
                WHERE (minute >= :first AND minute < :h0) OR (minute >= :h1 AND minute < :end))""",
            {"first": first, "h0": h0, "h1": h1, "end": end})


def _period_start(table: str, moment: datetime) -> datetime:
    """The start of the rollup period ``moment`` falls in (windows take whole periods)."""
    moment = moment.replace(second=0, microsecond=0)
    return moment.replace(minute=0) if table == "api_call_hours" else moment


def first_record(db: Connectable, low: datetime, high: datetime) -> datetime | None:
    """The earliest call or breaker transition in [low, high) (aware UTC), or None: one probe of
    each table's time index (where a window of ``all`` begins)."""
    with connect(app_db(db)) as conn:
        found = [_frame(conn, f"""SELECT MIN({column}) AS first FROM {app_table(conn, name)}
                                  WHERE {column} >= :low AND {column} < :high""",
                        {"low": low, "high": high}, times=("first",))["first"].iloc[0]
                 for name, column in (("api_calls", "called_at"), ("circuit_breaker_events", "occurred_at"))]
    moments = [moment.to_pydatetime() for moment in found if not pd.isna(moment)]
    return min(moments) if moments else None


def call_stats(db: Connectable, start: datetime, end: datetime) -> pd.DataFrame:
    """Per CRM and endpoint: calls, successes (2xx/3xx), 4xx, 5xx, no response, error rate (%),
    retries, average and p50/p95/p99 latency in ms.

    Up to two hours: exact, over the raw calls (percentiles in SQL). Longer: from the per-minute
    rollup (over two days: the per-hour one), whose latency histograms give percentiles within 15%
    (``queries.latency_histogram``) while reading thousands of rows instead of millions."""
    with connect(app_db(db)) as conn:
        if _rollup_table(conn, start, end):
            return _rollup_stats(conn, start, end)
        t = app_table(conn, "api_calls")
        window = "called_at >= :start AND called_at < :end"
        counts = """
            COUNT(*) AS calls,
            COUNT(*) FILTER (WHERE status_code < 400) AS successes,
            COUNT(*) FILTER (WHERE status_code >= 400 AND status_code < 500) AS client_errors,
            COUNT(*) FILTER (WHERE status_code >= 500) AS server_errors,
            COUNT(*) FILTER (WHERE status_code IS NULL) AS no_response,
            COALESCE(SUM(retries), 0) AS retries,
            AVG(duration_ms) AS avg_ms"""
        if conn.dialect.name == "postgresql":
            statement = f"""
                SELECT crm_source, endpoint, {counts},
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
                       percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99_ms
                FROM {t} WHERE {window} GROUP BY crm_source, endpoint ORDER BY crm_source, endpoint"""
        else:
            statement = f"""
                WITH r AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY crm_source, endpoint ORDER BY duration_ms) AS rn,
                                  COUNT(*) OVER (PARTITION BY crm_source, endpoint) AS n
                           FROM {t} WHERE {window})
                SELECT crm_source, endpoint, {counts},
                       MIN(CASE WHEN rn >= 0.5 * n THEN duration_ms END) AS p50_ms,
                       MIN(CASE WHEN rn >= 0.95 * n THEN duration_ms END) AS p95_ms,
                       MIN(CASE WHEN rn >= 0.99 * n THEN duration_ms END) AS p99_ms
                FROM r GROUP BY crm_source, endpoint ORDER BY crm_source, endpoint"""
        frame = _frame(conn, statement, {"start": start, "end": end})
    failures = frame["client_errors"] + frame["server_errors"] + frame["no_response"]
    return frame.assign(error_rate=(failures * 100.0 / frame["calls"]).round(2))


def _rollup_stats(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    values = (*_SUMS, "duration_sum", *HISTOGRAM)
    sums = ", ".join(f"SUM({c}) AS {c}" for c in values)
    source, params = _rollup_source(conn, start, end, ", ".join(("crm_source", "endpoint", *values)))
    frame = _frame(conn, f"""
        SELECT crm_source, endpoint, {sums} FROM {source} r
        GROUP BY crm_source, endpoint ORDER BY crm_source, endpoint""", params)
    counts = frame[HISTOGRAM].astype(int).values.tolist()
    frame = frame.assign(
        avg_ms=frame["duration_sum"] / frame["calls"],
        p50_ms=[latency_histogram.percentile(c, 0.5) for c in counts],
        p95_ms=[latency_histogram.percentile(c, 0.95) for c in counts],
        p99_ms=[latency_histogram.percentile(c, 0.99) for c in counts],
    ).drop(columns=[*HISTOGRAM, "duration_sum"])
    for column in _SUMS:
        frame[column] = frame[column].astype(int)
    failures = frame["client_errors"] + frame["server_errors"] + frame["no_response"]
    return frame.assign(error_rate=(failures * 100.0 / frame["calls"]).round(2))


def rate_limits(db: Connectable, start: datetime, end: datetime) -> pd.DataFrame:
    """Per CRM and endpoint with a rate limit seen: the latest observation (limit, remaining,
    reset) and the 429 count in the window."""
    with connect(app_db(db)) as conn:
        t = app_table(conn, "api_calls")
        params = {"start": start, "end": end}
        if _rollup_table(conn, start, end):
            # long windows: the pairs that reported a limit from the hourly rollup, then each
            # pair's latest such call by one probe down (crm_source, endpoint, called_at)
            latest = f"""
                SELECT p.crm_source, p.endpoint,
                       (SELECT MAX(c.called_at) FROM {t} c WHERE c.crm_source = p.crm_source
                          AND c.endpoint = p.endpoint AND c.called_at >= :start AND c.called_at < :end
                          AND c.rate_limit_remaining IS NOT NULL) AS seen_at
                FROM (SELECT DISTINCT crm_source, endpoint FROM {app_table(conn, 'api_call_hours')}
                      WHERE minute >= :first_hour AND minute < :end AND remaining_min IS NOT NULL) p"""
            params["first_hour"] = _period_start("api_call_hours", start)
        else:
            latest = f"""
                SELECT crm_source, endpoint, MAX(called_at) AS seen_at
                FROM {t} WHERE called_at >= :start AND called_at < :end AND rate_limit_remaining IS NOT NULL
                GROUP BY crm_source, endpoint"""
        statement = f"""
            WITH latest AS ({latest}),
            limited AS (
                SELECT crm_source, endpoint, COUNT(*) AS throttled
                FROM {t} WHERE called_at >= :start AND called_at < :end AND status_code = 429
                GROUP BY crm_source, endpoint)
            SELECT l.crm_source, l.endpoint, l.seen_at,
                   (SELECT c.rate_limit_limit FROM {t} c WHERE c.crm_source = l.crm_source
                      AND c.endpoint = l.endpoint AND c.called_at = l.seen_at LIMIT 1) AS rate_limit,
                   (SELECT c.rate_limit_remaining FROM {t} c WHERE c.crm_source = l.crm_source
                      AND c.endpoint = l.endpoint AND c.called_at = l.seen_at LIMIT 1) AS remaining,
                   (SELECT c.rate_limit_reset_at FROM {t} c WHERE c.crm_source = l.crm_source
                      AND c.endpoint = l.endpoint AND c.called_at = l.seen_at LIMIT 1) AS reset_at,
                   COALESCE(x.throttled, 0) AS throttled
            FROM latest l LEFT JOIN limited x ON x.crm_source = l.crm_source AND x.endpoint = l.endpoint
            WHERE l.seen_at IS NOT NULL
            ORDER BY l.crm_source, l.endpoint"""
        frame = _frame(conn, statement, params, times=("seen_at", "reset_at"))
    return frame.assign(percent_used=[percent_used(lim, rem) for lim, rem in
                                      zip(frame["rate_limit"], frame["remaining"], strict=True)])


def percent_used(limit, remaining) -> float | None:
    """1 - remaining/limit, in percent; nothing remaining is 100% even when no limit was sent
    (a 429 with only Retry-After)."""
    if remaining is None or pd.isna(remaining):
        return None
    if remaining == 0:
        return 100.0
    if limit is None or pd.isna(limit) or limit <= 0:
        return None
    return round((1 - remaining / limit) * 100, 1)


def remaining_series(db: Connectable, start: datetime, end: datetime) -> pd.DataFrame:
    """Per period, CRM and endpoint: the lowest rate-limit remaining seen (the history of each
    limit): per hour from the hourly rollup (whole hours), or per minute from the raw calls for
    windows up to two hours."""
    with connect(app_db(db)) as conn:
        rollup = "api_call_hours" if _rollup_table(conn, start, end) else None
        if rollup:
            statement = f"""
                SELECT minute AS period, crm_source, endpoint, remaining_min
                FROM {app_table(conn, rollup)}
                WHERE minute >= :start AND minute < :end AND remaining_min IS NOT NULL
                ORDER BY crm_source, endpoint, minute"""
            params = {"start": _period_start(rollup, start), "end": end}
        else:
            minute = BUCKETS["minute"][0 if conn.dialect.name == "postgresql" else 1]
            statement = f"""
                SELECT {minute} AS period, crm_source, endpoint, MIN(rate_limit_remaining) AS remaining_min
                FROM {app_table(conn, 'api_calls')}
                WHERE called_at >= :start AND called_at < :end AND rate_limit_remaining IS NOT NULL
                GROUP BY 1, 2, 3 ORDER BY 2, 3, 1"""
            params = {"start": start, "end": end}
        frame = _frame(conn, statement, params)
    frame["period"] = to_utc(pd.Series(pd.to_datetime(frame["period"]), index=frame.index), UTC_ZONE)  # type: ignore[arg-type]
    return frame


def breaker_states(db: Connectable, start: datetime, end: datetime) -> pd.DataFrame:
    """Per breaker: its transitions in the window, oldest first (the page derives state, time
    OPEN and the timeline from these few rows)."""
    with connect(app_db(db)) as conn:
        t = app_table(conn, "circuit_breaker_events")
        statement = f"""
            SELECT breaker, crm_source, occurred_at, from_state, to_state, failure_count, reason
            FROM {t}
            WHERE occurred_at < :end AND (occurred_at >= :start OR id IN (
                SELECT MAX(id) FROM {t} WHERE occurred_at < :start GROUP BY breaker))
            ORDER BY breaker, occurred_at, id"""
        return _frame(conn, statement, {"start": start, "end": end}, times=("occurred_at",))



BUCKETS = {"minute": ("date_trunc('minute', called_at)", "strftime('%Y-%m-%d %H:%M:00', called_at)"),
           "hour": ("date_trunc('hour', called_at)", "strftime('%Y-%m-%d %H:00:00', called_at)")}


def call_series(db: Connectable, start: datetime, end: datetime, bucket: str = "hour") -> pd.DataFrame:
    """Per time bucket and CRM: calls, failures (4xx, 5xx, no response) and average latency."""
    with connect(app_db(db)) as conn:
        postgres, sqlite = BUCKETS[bucket]
        rollup = _rollup_table(conn, start, end)
        if rollup:
            expression = (postgres if conn.dialect.name == "postgresql" else sqlite).replace("called_at", "minute")
            source, params = _rollup_source(
                conn, start, end, "minute, crm_source, calls, client_errors, server_errors, no_response, duration_sum")
            frame = _frame(conn, f"""
                SELECT {expression} AS bucket, crm_source, SUM(calls) AS calls,
                       SUM(client_errors + server_errors + no_response) AS failures,
                       SUM(duration_sum) / SUM(calls) AS avg_ms
                FROM {source} r GROUP BY 1, 2 ORDER BY 1, 2""", params)
            frame["bucket"] = to_utc(pd.Series(pd.to_datetime(frame["bucket"]), index=frame.index), UTC_ZONE)  # type: ignore[arg-type]
            return frame
        expression = postgres if conn.dialect.name == "postgresql" else sqlite
        statement = f"""
            SELECT {expression} AS bucket, crm_source, COUNT(*) AS calls,
                   COUNT(*) FILTER (WHERE status_code IS NULL OR status_code >= 400) AS failures,
                   AVG(duration_ms) AS avg_ms
            FROM {app_table(conn, 'api_calls')} WHERE called_at >= :start AND called_at < :end
            GROUP BY 1, 2 ORDER BY 1, 2"""
        frame = _frame(conn, statement, {"start": start, "end": end})
    frame["bucket"] = to_utc(pd.Series(pd.to_datetime(frame["bucket"]), index=frame.index), UTC_ZONE)  # type: ignore[arg-type]
    return frame


def breaker_summary(events: pd.DataFrame, start: datetime, end: datetime) -> list[dict]:
    """Per breaker, from its transitions: state now, failure count, last transition, and the
    seconds it spent OPEN inside [start, end)."""
    summaries = []
    for breaker, rows in events.groupby("breaker", sort=True):
        rows = rows.sort_values("occurred_at", kind="stable")  # ties keep their id order (HALF_OPEN, then CLOSED)
        open_seconds, opened = 0.0, None
        for row in rows.itertuples(index=False):
            moment = max(row.occurred_at.to_pydatetime(), start)
            if row.to_state == "OPEN" and opened is None:
                opened = moment
            elif row.to_state != "OPEN" and opened is not None:
                open_seconds += (moment - opened).total_seconds()
                opened = None
        if opened is not None:
            open_seconds += (end - opened).total_seconds()
        last = rows.iloc[-1]
        summaries.append({
            "breaker": breaker, "crm_source": last["crm_source"], "state": last["to_state"],
            "failure_count": int(last["failure_count"]), "last_transition": last["occurred_at"],
            "last_reason": last["reason"], "open_seconds": round(open_seconds, 1),
            "transitions": rows[rows["occurred_at"] >= pd.Timestamp(start)].to_dict("records"),
        })
    return summaries
