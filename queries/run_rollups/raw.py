"""The raw table's side of the rollups: ``hour_rows`` and ``error_rows`` aggregate ``sync_history``
over a time range (the builder writes their rows; the readers use them for the open edges of a
window), and the probes that find which hours hold runs (``hours_after_id``, ``hours_with_runs``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from queries import duration_histogram, outcomes, scope, time_bounds
from queries._sql import (
    Binds,
    Connectable,
    connect,
    data_zone,
    day_sql,
    duration_sql,
    duration_sum_sql,
    label_days,
    table,
    timed_seconds_sql,
    timed_sql,
)
from queries.as_of import across, in_one, runs_source
from queries.error_classes import error_class
from queries.run_rollups.columns import COUNTS, DURATIONS, KEY, SECONDS, VALUES
from queries.run_rollups.fetch import driver_frame
from queries.run_rollups.hours import floor_hour, naive_utc


def hour_sql(conn) -> str:
    """The UTC hour of start_time: exact on PostgreSQL for any zone (the session runs in the data
    zone, so a naive value casts to its instant); on SQLite the data zone's hour, made UTC in Python."""
    if conn.dialect.name == "postgresql":
        return "date_trunc('hour', start_time::timestamptz AT TIME ZONE 'UTC')"
    return "strftime('%Y-%m-%d %H:00:00', start_time)"


def utc_hours(conn, values: pd.Series) -> pd.Series:
    """The hours as naive UTC. SQLite's are the data zone's: the hour that repeats when clocks go
    back is taken as its first (summer) occurrence."""
    if conn.dialect.name == "postgresql":
        return pd.to_datetime(values)
    local = pd.to_datetime(values, format="ISO8601")
    return local.dt.tz_localize(data_zone(conn), ambiguous=np.ones(len(local), dtype=bool),
                                nonexistent="shift_forward").dt.tz_convert("UTC").dt.tz_convert(None)


def hour_rows(db: Connectable, start: datetime | None, end: datetime | None, crm_sources=(),
              sync_types=(), classes: tuple[str, ...] = (), histogram: bool = True,
              as_of: datetime | None = None) -> pd.DataFrame:
    """Runs started in [start, end) per hour (naive UTC), day, CRM, sync type and class: every
    column of ``run_hours``. One scan; the histogram is pivoted here from (key, bucket) counts
    (without ``histogram``, its columns are left at 0 and the rows are not split by bucket).
    ``as_of``: the runs as they stood then (``queries.as_of.runs_source``)."""
    with connect(db) as conn:
        b = Binds(conn)
        seconds = duration_sql(conn)
        timed = timed_sql(conn)
        timed_seconds = timed_seconds_sql(conn)
        duration_sum = duration_sum_sql(conn)
        where = scope.runs(b, start=start, end=end, crm_sources=crm_sources, sync_types=sync_types, classes=classes)
        frame = driver_frame(b, f"""
            SELECT hour, day, crm_source, sync_type, status_class, bucket,
                   COUNT(*) AS runs,
                   COALESCE(SUM(records_processed), 0) AS records_processed,
                   COALESCE(SUM(records_created), 0) AS records_created,
                   COALESCE(SUM(records_updated), 0) AS records_updated,
                   COALESCE(SUM(records_failed), 0) AS records_failed,
                   COUNT(*) FILTER (WHERE {timed}) AS timed_runs,
                   COALESCE(SUM(CASE WHEN {timed} THEN COALESCE(records_processed, 0) END), 0) AS timed_records,
                   COUNT({seconds}) AS duration_count,
                   CAST(COALESCE({timed_seconds}, 0) AS DOUBLE PRECISION) AS timed_seconds,
                   CAST(COALESCE({duration_sum}, 0) AS DOUBLE PRECISION) AS duration_sum
            FROM (SELECT {hour_sql(conn)} AS hour, {day_sql(conn)} AS day, crm_source, sync_type,
                         COALESCE({outcomes.class_case(conn)}, 'unknown') AS status_class,
                         {duration_histogram.bucket_sql(b.postgres, seconds) if histogram else 'NULL'} AS bucket,
                         start_time, end_time, records_processed, records_created, records_updated, records_failed
                  FROM {runs_source(b, as_of)}
                  WHERE {scope.where(where)}) r
            GROUP BY 1, 2, 3, 4, 5, 6""")
        if frame.empty:
            return pd.DataFrame(columns=["hour", *KEY, *VALUES])
        frame["hour"] = utc_hours(conn, frame["hour"])
    frame = label_days(frame)
    key = ["hour", *KEY]
    grouped = frame.groupby(key, sort=False, dropna=False)
    sums = grouped[COUNTS + SECONDS].sum().reset_index()
    group = grouped.ngroup().to_numpy()
    buckets = np.zeros((len(sums), len(DURATIONS)), dtype="int64")
    timed = frame["bucket"].notna().to_numpy()
    np.add.at(buckets, (group[timed], frame["bucket"].to_numpy()[timed].astype("int64")),
              frame["duration_count"].to_numpy()[timed].astype("int64"))
    return pd.concat([sums, pd.DataFrame(buckets, columns=DURATIONS)], axis=1)


def spanning_hours(db: Connectable, start: datetime | None, at: datetime) -> frozenset[datetime]:
    """The UTC hours (naive) in [start, at) holding a run that started then and ended after ``at``
    (``queries.as_of.across``: two index reads): as of ``at`` the rollups count those hours' runs by
    their later status, so readers take them from the raw table."""
    with connect(db) as conn:
        def read(indexed: bool) -> pd.DataFrame:
            b = Binds(conn)
            h = table(conn, "sync_history")
            return b.frame(" UNION ".join(f"SELECT DISTINCT {hour_sql(conn)} AS hour FROM {h} WHERE {scope.where(w)}"
                                          for w in across(b, at, start, at, indexed=indexed)))

        frame = in_one(conn, read)
        if frame.empty:
            return frozenset()
        hours = utc_hours(conn, frame["hour"])
    return frozenset(floor_hour(h.to_pydatetime().replace(tzinfo=UTC)) for h in hours)


def error_rows(db: Connectable, start: datetime | None, end: datetime | None,
               as_of: datetime | None = None) -> pd.DataFrame:
    """Failed and partial runs started in [start, end) per hour, day and error class: runs,
    failed, partial, last seen, the most frequent message (first 500 characters) and one run of it.
    ``as_of``: the runs as they stood then (``queries.as_of.runs_source``)."""
    columns = ["hour", "day", "error_class", "runs", "failed", "partial", "last_seen", "sample", "sample_runs",
               "sample_id"]
    with connect(db) as conn:
        b = Binds(conn)
        frame = b.frame(f"""
            SELECT {hour_sql(conn)} AS hour, {day_sql(conn)} AS day, SUBSTR(error_message, 1, 500) AS message,
                   COUNT(*) AS runs,
                   COUNT(*) FILTER (WHERE {outcomes.in_class(conn, 'failed')}) AS failed,
                   COUNT(*) FILTER (WHERE {outcomes.in_class(conn, 'partial')}) AS partial,
                   MAX(start_time) AS last_seen, MAX(id) AS sample_id
            FROM {runs_source(b, as_of)}
            WHERE {scope.where(scope.runs(b, start=start, end=end, classes=('failed', 'partial')))}
            GROUP BY 1, 2, 3""", times=("last_seen",))
        if frame.empty:
            return pd.DataFrame(columns=columns)
        frame["hour"] = utc_hours(conn, frame["hour"])
    frame = label_days(frame)
    frame["error_class"] = [error_class(None if pd.isna(m) else m) for m in frame["message"]]
    frame = frame.sort_values(["runs", "sample_id"], ascending=[False, False])
    key = ["hour", "day", "error_class"]
    grouped = frame.groupby(key, as_index=False, sort=False).agg(
        runs=("runs", "sum"), failed=("failed", "sum"), partial=("partial", "sum"), last_seen=("last_seen", "max"),
        sample=("message", "first"), sample_runs=("runs", "first"), sample_id=("sample_id", "first"))
    grouped["last_seen"] = grouped["last_seen"].dt.tz_convert(None)
    return grouped[columns]


def hours_after_id(db: Connectable, last_id: int, edge: datetime) -> list[datetime]:
    """The UTC hours in [EARLIEST_HOUR, ``edge``) of the runs whose id is above ``last_id``: one
    range scan of the primary key (ids only grow, so a run written late has a higher one)."""
    with connect(db) as conn:
        b = Binds(conn)
        frame = b.frame(f"""
            SELECT DISTINCT {hour_sql(conn)} AS hour FROM {table(conn, 'sync_history')}
            WHERE id > {b.bind(int(last_id))} AND start_time >= {b.bind(time_bounds.EARLIEST)}
              AND start_time < {b.bind(naive_utc(edge).replace(tzinfo=UTC))}""")
        if frame.empty:
            return []
        hours = utc_hours(conn, frame["hour"])
    return sorted({floor_hour(h.to_pydatetime()) for h in hours})


def next_start(conn, low: datetime, high: datetime) -> datetime | None:
    """The earliest start_time in [low, high) (naive UTC bounds), as naive UTC, or None: one
    probe down the start_time index."""
    b = Binds(conn)
    value = b.frame(f"""SELECT MIN(start_time) AS first FROM {table(conn, 'sync_history')}
                        WHERE start_time >= {b.bind(low.replace(tzinfo=UTC))}
                          AND start_time < {b.bind(high.replace(tzinfo=UTC))}""", times=("first",))["first"].iloc[0]
    return None if pd.isna(value) else value.tz_convert(None).to_pydatetime()


def hours_with_runs(db: Connectable, low: datetime, high: datetime) -> list[datetime]:
    """The UTC hours in [low, high) (naive UTC) that hold a run, by a loose index scan: from each
    run found, one probe of the start_time index jumps to the first run of a later hour, so empty
    hours, days and decades cost nothing. One recursive statement on PostgreSQL; a probe per
    hour found on SQLite."""
    with connect(db) as conn:
        if conn.dialect.name != "postgresql":
            hours: list[datetime] = []
            start = next_start(conn, low, high)
            while start is not None:
                hours.append(floor_hour(start))
                start = next_start(conn, hours[-1] + timedelta(hours=1), high)
            return hours
        b = Binds(conn)
        t = table(conn, "sync_history")
        upper = f"s.start_time < {b.bind(high.replace(tzinfo=UTC))}"
        after = ("date_trunc('hour', r.start_time::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
                 " + interval '1 hour'")
        frame = b.frame(f"""
            WITH RECURSIVE r(start_time) AS (
                (SELECT s.start_time FROM {t} s WHERE s.start_time >= {b.bind(low.replace(tzinfo=UTC))} AND {upper}
                 ORDER BY s.start_time LIMIT 1)
                UNION ALL
                SELECT (SELECT s.start_time FROM {t} s WHERE s.start_time >= {after} AND {upper}
                        ORDER BY s.start_time LIMIT 1)
                FROM r WHERE r.start_time IS NOT NULL)
            SELECT start_time FROM r WHERE start_time IS NOT NULL""", times=("start_time",))
    return [floor_hour(moment.to_pydatetime()) for moment in frame["start_time"]]
