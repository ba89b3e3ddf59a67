"""The performance page's aggregates, by calendar day (UTC, of start_time), computed in SQL.

Two statements cover the whole page:
- ``daily_rollup``: one scan grouping runs by day, CRM and sync type into counts and sums; the
  small per-chart tables (records by CRM, success rate per day, runs per day, throughput) are
  re-grouped from its few hundred rows by the ``*_from`` functions;
- ``daily_percentiles``: p50 and p95 duration per day and CRM and per day overall (PostgreSQL:
  percentile_disc over GROUPING SETS, one sort; SQLite: nearest rank with window functions).
Durations count finished runs that succeeded or were partial. Statuses count by their class
(``queries.outcomes``): ``completed`` is a success, unknown values count in no class.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from queries import _sql, outcomes, run_rollups, scope
from queries._sql import (
    Binds,
    Connectable,
    connect,
    day_sql,
    duration_sql,
    known_duration_sql,
    label_days,
    span_sql,
    timed_seconds_sql,
    timed_sql,
)
from queries.as_of import runs_source

ALL = "all"


def data_zone(db: Connectable) -> ZoneInfo:
    """The zone whose calendar days the per-day aggregates count in (the data's, SYNC_TIMEZONE)."""
    return _sql.data_zone(db)


def first_start(db: Connectable, low: datetime, high: datetime) -> datetime | None:
    """The earliest start_time in [low, high) (aware UTC), or None: one probe of the start_time
    index (where a window of ``all`` begins)."""
    with connect(db) as conn:
        found = run_rollups.next_start(conn, *(t.astimezone(UTC).replace(tzinfo=None) for t in (low, high)))
    return None if found is None else found.replace(tzinfo=UTC)


def finished_ok(db: Connectable) -> str:
    """SQL: a finished run that succeeded or was partial (whose duration means something)."""
    return f"{known_duration_sql(db)} AND {outcomes.in_class(db, 'success', 'partial')}"


def _window(b: Binds, start: datetime, end: datetime, crm_sources=(), sync_types=()) -> str:
    return scope.where(scope.runs(b, start=start, end=end, crm_sources=crm_sources, sync_types=sync_types))


def daily_rollup(db: Connectable, start: datetime, end: datetime, crm_sources=(), sync_types=(),
                 as_of: datetime | None = None) -> pd.DataFrame:
    """Per day, CRM and sync type: runs, completed, failed, partial, records (NULL as 0), and the
    runs, records and seconds of finished runs with a duration above 0 (for throughput).
    ``as_of``: the runs as they stood then (``queries.as_of.runs_source``)."""
    with connect(db) as conn:
        b = Binds(conn)
        timed = timed_sql(conn)
        timed_seconds = timed_seconds_sql(conn)
        return label_days(b.frame(f"""
            SELECT {day_sql(conn)} AS day, crm_source, sync_type,
                   COUNT(*) AS runs,
                   COUNT(*) FILTER (WHERE {outcomes.in_class(conn, 'success')}) AS completed,
                   COUNT(*) FILTER (WHERE {outcomes.in_class(conn, 'failed')}) AS failed,
                   COUNT(*) FILTER (WHERE {outcomes.in_class(conn, 'partial')}) AS partial,
                   COUNT(*) FILTER (WHERE {timed}) AS timed_runs,
                   COALESCE(SUM(records_processed), 0) AS records,
                   COALESCE(SUM(CASE WHEN {timed} THEN COALESCE(records_processed, 0) END), 0) AS timed_records,
                   CAST(COALESCE({timed_seconds}, 0) AS DOUBLE PRECISION) AS timed_seconds
            FROM {runs_source(b, as_of)}
            WHERE {_window(b, start, end, crm_sources, sync_types)}
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""))


def daily_percentiles(db: Connectable, start: datetime, end: datetime, crm_sources=(),
                      sync_types=(), as_of: datetime | None = None) -> pd.DataFrame:
    """Per day and CRM, and per day over all CRMs (crm_source = 'all'): p50, p95 (nearest rank,
    in seconds) and runs. ``as_of``: the runs as they stood then."""
    with connect(db) as conn:
        b = Binds(conn)
        source = runs_source(b, as_of)
        window = f"WHERE {_window(b, start, end, crm_sources, sync_types)} AND {finished_ok(conn)}"
        if b.postgres:  # percentile_disc sorts the intervals themselves: no per-row arithmetic
            return label_days(b.frame(f"""
                SELECT day, CASE WHEN GROUPING(crm_source) = 1 THEN '{ALL}' ELSE crm_source END AS crm_source,
                       CAST(EXTRACT(EPOCH FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY span))
                            AS DOUBLE PRECISION) AS p50,
                       CAST(EXTRACT(EPOCH FROM percentile_disc(0.95) WITHIN GROUP (ORDER BY span))
                            AS DOUBLE PRECISION) AS p95,
                       COUNT(*) AS runs
                FROM (SELECT {day_sql(conn)} AS day, crm_source, {span_sql(conn)} AS span
                      FROM {source} {window}) d
                GROUP BY GROUPING SETS ((day, crm_source), (day)) ORDER BY 1, 2"""))
        runs = (f"SELECT {day_sql(conn)} AS day, crm_source, {duration_sql(conn)} AS seconds "
                f"FROM {source} {window}")
        ranked = """
            SELECT day, crm_source, seconds,
                   ROW_NUMBER() OVER (PARTITION BY day, crm_source ORDER BY seconds) AS rn,
                   COUNT(*) OVER (PARTITION BY day, crm_source) AS n FROM d"""
        return b.frame(f"""
            WITH d AS ({runs} UNION ALL SELECT day, '{ALL}', seconds FROM ({runs}) o), r AS ({ranked})
            SELECT day, crm_source,
                   MIN(CASE WHEN rn >= 0.5 * n THEN seconds END) AS p50,
                   MIN(CASE WHEN rn >= 0.95 * n THEN seconds END) AS p95,
                   MAX(n) AS runs
            FROM r GROUP BY day, crm_source ORDER BY 1, 2""")


def records_by_crm_from(rollup: pd.DataFrame) -> pd.DataFrame:
    """Records processed per CRM, largest first."""
    frame = rollup.groupby("crm_source", as_index=False)["records"].sum()
    return frame.sort_values(["records", "crm_source"], ascending=[False, True]).reset_index(drop=True)


def success_rate_from(rollup: pd.DataFrame) -> pd.DataFrame:
    """Per day: completed, failed, partial, the success rate and the partial rate
    (``queries.outcomes``' definitions)."""
    frame = rollup.groupby("day", as_index=False)[["completed", "failed", "partial"]].sum()
    counts = list(zip(frame["completed"], frame["failed"], frame["partial"], strict=True))
    return frame.assign(success_rate=[outcomes.success_rate(int(s), int(f)) for s, f, _ in counts],
                        partial_rate=[outcomes.partial_rate(int(s), int(f), int(p)) for s, f, p in counts])


def runs_per_day_from(rollup: pd.DataFrame) -> pd.DataFrame:
    return rollup.groupby(["day", "crm_source"], as_index=False)["runs"].sum()


def throughput_from(rollup: pd.DataFrame) -> pd.DataFrame:
    """Per CRM and sync type: total records / total seconds of timed runs, fastest first."""
    sums = ["timed_records", "timed_seconds", "timed_runs"]
    frame = rollup.groupby(["crm_source", "sync_type"], as_index=False)[sums].sum()
    frame = frame[frame["timed_seconds"] > 0]
    frame = frame.assign(records_per_second=frame["timed_records"] / frame["timed_seconds"], runs=frame["timed_runs"])
    return frame[["crm_source", "sync_type", "records_per_second", "runs"]].sort_values(
        "records_per_second", ascending=False).reset_index(drop=True)
