"""The run rollups' SQL: per UTC hour, calendar day (the data zone's, as the raw queries label
days), CRM, sync type and status class, the runs' counts, record sums, durations and a duration
histogram (``queries.duration_histogram``); per hour and error class, the failed and partial runs.

``hour_rows`` and ``error_rows`` aggregate the raw table over a time range (the builder writes
their rows; the readers use them for the open edge of a window). ``run_rows`` answers a window
from the rollups for whole hours (``run_days`` for whole UTC days, ``run_hours`` for the hours
around them) and from the raw table for the edges: before the first whole hour or 2000-01-01
(``time_bounds.EARLIEST``: older runs are never rolled up), from ``covered_until`` (the hour the
rollups reach) on, and the UTC hours holding runs written since the rollups' last cycle
(``dirty_hours``: a late run is counted before the refresh rolls it up). Keys are kept as the
user's table holds them: a NULL CRM or sync type is a key of its own, apart from ''. The
``*_from`` functions turn those rows into the frames the performance, errors, metrics and
failed-operations payloads read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from queries import duration_histogram, outcomes, scope, time_bounds
from queries._sql import (
    Binds,
    Connectable,
    app_db,
    app_table,
    app_tables_exist,
    connect,
    day_sql,
    duration_sql,
    duration_sum_sql,
    label_days,
    sql,
    table,
    timed_seconds_sql,
    timed_sql,
    to_utc,
)
from queries.error_classes import error_class

KEY = ["day", "crm_source", "sync_type", "status_class"]
COUNTS = ["runs", "records_processed", "records_created", "records_updated", "records_failed",
          "timed_runs", "timed_records", "duration_count"]
SECONDS = ["timed_seconds", "duration_sum"]
DURATIONS = duration_histogram.COLUMNS
VALUES = COUNTS + SECONDS + DURATIONS
ALL = "all"
STATE = "runs"  # rollup_state's row


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def floor_hour(moment: datetime) -> datetime:
    return _naive_utc(moment).replace(minute=0, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    """The UTC midnight before ``moment`` (naive UTC)."""
    return floor_hour(moment).replace(hour=0)


def day_text(moment: datetime) -> str:
    """'YYYY-MM-DD' of ``moment``, the year always four digits (strftime's %Y gives '1' for year 1)."""
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


def parse_day(value: str) -> datetime:
    """A 'YYYY-MM-DD' this module wrote (``day_text``) as a naive midnight."""
    year, month, day = (int(part) for part in value.split("-"))
    return datetime(year, month, day)


def key_value(value: object) -> object:
    """A CRM or sync type as a dict key: every missing value (None, NaN of a pandas column) is None."""
    return None if value is None or (isinstance(value, float) and value != value) else value


# The rollups hold runs started in [EARLIEST_HOUR, covered_until); runs before it (1970, year 1,
# -infinity) and after it are read from the raw table.
EARLIEST_HOUR = time_bounds.EARLIEST.replace(tzinfo=None)


def _ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == _naive_utc(moment) else floor + timedelta(hours=1)


# -- the raw table ----------------------------------------------------------------------------

def _hour_sql(conn) -> str:
    """The UTC hour of start_time: exact on PostgreSQL for any zone (the session runs in the data
    zone, so a naive value casts to its instant); on SQLite the data zone's hour, made UTC in Python."""
    if conn.dialect.name == "postgresql":
        return "date_trunc('hour', start_time::timestamptz AT TIME ZONE 'UTC')"
    return "strftime('%Y-%m-%d %H:00:00', start_time)"


def _utc_hours(conn, values: pd.Series) -> pd.Series:
    """The hours as naive UTC. SQLite's are the data zone's: the hour that repeats when clocks go
    back is taken as its first (summer) occurrence."""
    if conn.dialect.name == "postgresql":
        return pd.to_datetime(values)
    local = pd.to_datetime(values, format="ISO8601")
    return local.dt.tz_localize(_zone(conn), ambiguous=np.ones(len(local), dtype=bool),
                                nonexistent="shift_forward").dt.tz_convert("UTC").dt.tz_convert(None)


def _zone(conn):
    from queries._sql import data_zone

    return data_zone(conn)


def _fetch(b: Binds, statement: str) -> pd.DataFrame:
    """``b.frame(statement)`` (no time columns); on PostgreSQL straight through the driver's
    cursor: a day's tens of thousands of (key, bucket) rows cost less without SQLAlchemy's rows."""
    if not b.postgres:
        return b.frame(statement)
    compiled = sql(statement, params=tuple(b.time_params)).compile(dialect=b.conn.dialect)
    cursor = b.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), b.params)
        return pd.DataFrame(cursor.fetchall(), columns=[d[0] for d in cursor.description])
    finally:
        cursor.close()


def hour_rows(db: Connectable, start: datetime | None, end: datetime | None, crm_sources=(),
              sync_types=(), classes: tuple[str, ...] = (), histogram: bool = True) -> pd.DataFrame:
    """Runs started in [start, end) per hour (naive UTC), day, CRM, sync type and class: every
    column of ``run_hours``. One scan; the histogram is pivoted here from (key, bucket) counts
    (without ``histogram``, its columns are left at 0 and the rows are not split by bucket)."""
    with connect(db) as conn:
        b = Binds(conn)
        seconds = duration_sql(conn)
        timed = timed_sql(conn)
        timed_seconds = timed_seconds_sql(conn)
        duration_sum = duration_sum_sql(conn)
        where = scope.runs(b, start=start, end=end, crm_sources=crm_sources, sync_types=sync_types, classes=classes)
        frame = _fetch(b, f"""
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
            FROM (SELECT {_hour_sql(conn)} AS hour, {day_sql(conn)} AS day, crm_source, sync_type,
                         COALESCE({outcomes.class_case(conn)}, 'unknown') AS status_class,
                         {duration_histogram.bucket_sql(b.postgres, seconds) if histogram else 'NULL'} AS bucket,
                         start_time, end_time, records_processed, records_created, records_updated, records_failed
                  FROM {table(conn, 'sync_history')}
                  WHERE {scope.where(where)}) r
            GROUP BY 1, 2, 3, 4, 5, 6""")
        if frame.empty:
            return pd.DataFrame(columns=["hour", *KEY, *VALUES])
        frame["hour"] = _utc_hours(conn, frame["hour"])
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


def error_rows(db: Connectable, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """Failed and partial runs started in [start, end) per hour, day and error class: runs,
    failed, partial, last seen, the most frequent message (first 500 characters) and one run of it."""
    columns = ["hour", "day", "error_class", "runs", "failed", "partial", "last_seen", "sample", "sample_runs",
               "sample_id"]
    with connect(db) as conn:
        b = Binds(conn)
        frame = b.frame(f"""
            SELECT {_hour_sql(conn)} AS hour, {day_sql(conn)} AS day, SUBSTR(error_message, 1, 500) AS message,
                   COUNT(*) AS runs,
                   COUNT(*) FILTER (WHERE {outcomes.in_class(conn, 'failed')}) AS failed,
                   COUNT(*) FILTER (WHERE {outcomes.in_class(conn, 'partial')}) AS partial,
                   MAX(start_time) AS last_seen, MAX(id) AS sample_id
            FROM {table(conn, 'sync_history')}
            WHERE {scope.where(scope.runs(b, start=start, end=end, classes=('failed', 'partial')))}
            GROUP BY 1, 2, 3""", times=("last_seen",))
        if frame.empty:
            return pd.DataFrame(columns=columns)
        frame["hour"] = _utc_hours(conn, frame["hour"])
    frame = label_days(frame)
    frame["error_class"] = [error_class(None if pd.isna(m) else m) for m in frame["message"]]
    frame = frame.sort_values(["runs", "sample_id"], ascending=[False, False])
    key = ["hour", "day", "error_class"]
    grouped = frame.groupby(key, as_index=False, sort=False).agg(
        runs=("runs", "sum"), failed=("failed", "sum"), partial=("partial", "sum"), last_seen=("last_seen", "max"),
        sample=("message", "first"), sample_runs=("runs", "first"), sample_id=("sample_id", "first"))
    grouped["last_seen"] = grouped["last_seen"].dt.tz_convert(None)
    return grouped[columns]


# -- the rollups ------------------------------------------------------------------------------

def ready(db: Connectable) -> datetime | None:
    """The hour the rollups reach (naive UTC; hours before it are rolled up), or None when there
    are no rollups (no ``db upgrade``, or a build that has not finished)."""
    if not app_tables_exist(db, "rollup_state"):
        return None
    with connect(app_db(db)) as conn:
        row = conn.exec_driver_sql(
            f"SELECT covered_until FROM {app_table(conn, 'rollup_state')} WHERE name = '{STATE}'").first()
    if row is None or row[0] is None:
        return None
    value = row[0]
    return pd.Timestamp(value).to_pydatetime() if not isinstance(value, datetime) else value


def _rollup_statement(b: Binds, name: str, period: str, low: object, high: object, crm_sources, sync_types,
                      classes: tuple[str, ...], key: list[str], values: list[str]) -> str:
    """``values`` summed per ``key`` over the rollup table ``name`` for ``period`` in [low, high)."""
    where = scope.rollups(b, period, low, high, crm_sources, sync_types, classes)
    kind = "DOUBLE PRECISION" if b.postgres else "REAL"
    sums = ", ".join(f"CAST(SUM({c}) AS {kind if c in SECONDS else 'BIGINT'}) AS {c}" for c in values)
    return f"""
        SELECT {', '.join(key)}, {sums} FROM {app_table(b.conn, name)}
        WHERE {scope.where(where)} GROUP BY {', '.join(key)}"""


def _rollup_sql(b: Binds, name: str, period: str, low: object, high: object, crm_sources, sync_types,
                classes: tuple[str, ...], key: list[str], values: list[str]) -> pd.DataFrame:
    statement = _rollup_statement(b, name, period, low, high, crm_sources, sync_types, classes, key, values)
    return _wide_frame(b, statement, len(key))


def _wide_rows(b: Binds, statement: str, keys: int) -> tuple[list[tuple], np.ndarray, list[str]]:
    """``statement``'s first ``keys`` columns as tuples and the numbers after them as one float
    array; on PostgreSQL straight through the driver's cursor, since making SQLAlchemy rows of
    ~200 columns costs more than the query. Also returns the column names."""
    if not b.postgres:
        frame = b.frame(statement)
        return (list(frame.iloc[:, :keys].itertuples(index=False, name=None)),
                frame.iloc[:, keys:].to_numpy(dtype=np.float64), list(frame.columns))
    compiled = sql(statement, params=tuple(b.time_params)).compile(dialect=b.conn.dialect)
    cursor = b.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), b.params)
        rows = cursor.fetchall()
        names = [d[0] for d in cursor.description]
    finally:
        cursor.close()
    numbers = np.array([row[keys:] for row in rows], dtype=np.float64).reshape(len(rows), len(names) - keys)
    return [row[:keys] for row in rows], numbers, names


def _wide_frame(b: Binds, statement: str, keys: int) -> pd.DataFrame:
    """``b.frame(statement)`` through ``_wide_rows``: the numbers made one block (pandas would
    infer each column's type)."""
    key_rows, numbers, names = _wide_rows(b, statement, keys)
    frame = pd.DataFrame(numbers, columns=names[keys:])
    for position, name in enumerate(names[:keys]):
        frame.insert(position, name, [row[position] for row in key_rows])
    return frame


MAX_DIRTY_RANGES = 24  # past it, one raw range from the first dirty hour to the last (a backfill)


def _dirty_ranges(dirty: frozenset[datetime], h0: datetime, h1: datetime) -> list[tuple[datetime, datetime]]:
    """The ``dirty`` hours in [h0, h1) as ranges of consecutive hours (one range when too many)."""
    ranges: list[list[datetime]] = []
    for hour in sorted(h for h in dirty if h0 <= h < h1):
        if ranges and ranges[-1][1] == hour:
            ranges[-1][1] = hour + timedelta(hours=1)
        else:
            ranges.append([hour, hour + timedelta(hours=1)])
    if len(ranges) > MAX_DIRTY_RANGES:
        ranges = [[ranges[0][0], ranges[-1][1]]]
    return [(a, b) for a, b in ranges]


def _spans(start: datetime | None, end: datetime | None, covered: datetime,
           dirty: frozenset[datetime] = frozenset()):
    """Which ranges of [start, end) (None: unbounded) the raw table answers (aware bounds or
    None), and which spans of whole hours (naive UTC) the rollups do: the hours in
    [EARLIEST_HOUR, ``covered``) but the ``dirty`` ones (holding runs written since the rollups
    last saw them: ``dirty_hours``), which are read raw like the edges."""
    h0 = EARLIEST_HOUR if start is None else max(EARLIEST_HOUR, _ceil_hour(start))
    h1 = covered if end is None else min(covered, floor_hour(end))
    if h0 >= h1:  # no whole hour rolled up in the window
        return [(start, end)], []
    raw: list[tuple[datetime | None, datetime | None]] = []
    if start is None or _naive_utc(start) < h0:
        raw.append((start, h0.replace(tzinfo=UTC)))
    spans, cursor = [], h0
    for low, high in _dirty_ranges(dirty, h0, h1):
        if cursor < low:
            spans.append((cursor, low))
        raw.append((low.replace(tzinfo=UTC), high.replace(tzinfo=UTC)))
        cursor = high
    if cursor < h1:
        spans.append((cursor, h1))
    if end is None or h1 < _naive_utc(end):
        raw.append((h1.replace(tzinfo=UTC), end))
    return raw, spans


def _rolled(h0: datetime, h1: datetime) -> list[tuple[str, str, object, object]]:
    """The rollup reads of the hours [h0, h1): (``run_days``, UTC days) for whole days,
    (``run_hours``, hours) around them."""
    d0 = h0 if h0.hour == 0 else floor_day(h0) + timedelta(days=1)
    d1 = floor_day(h1)
    if d0 >= d1:
        return [("run_hours", "hour", h0, h1)]
    rolled: list[tuple[str, str, object, object]] = [("run_days", "day_utc", day_text(d0), day_text(d1))]
    if h0 < d0:
        rolled.append(("run_hours", "hour", h0, d0))
    if d1 < h1:
        rolled.append(("run_hours", "hour", d1, h1))
    return rolled


def _plan(start: datetime | None, end: datetime | None, covered: datetime,
          dirty: frozenset[datetime] = frozenset()):
    """``_spans``' raw ranges, and its rolled-up spans as (table, period column, low, high) reads."""
    raw, spans = _spans(start, end, covered, dirty)
    return raw, [read for h0, h1 in spans for read in _rolled(h0, h1)]


def hours_after_id(db: Connectable, last_id: int, edge: datetime) -> list[datetime]:
    """The UTC hours in [EARLIEST_HOUR, ``edge``) of the runs whose id is above ``last_id``: one
    range scan of the primary key (ids only grow, so a run written late has a higher one)."""
    with connect(db) as conn:
        b = Binds(conn)
        frame = b.frame(f"""
            SELECT DISTINCT {_hour_sql(conn)} AS hour FROM {table(conn, 'sync_history')}
            WHERE id > {b.bind(int(last_id))} AND start_time >= {b.bind(time_bounds.EARLIEST)}
              AND start_time < {b.bind(_naive_utc(edge).replace(tzinfo=UTC))}""")
        if frame.empty:
            return []
        hours = _utc_hours(conn, frame["hour"])
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


def last_id(db: Connectable) -> int | None:
    """The highest sync_history.id the rollups have seen (None before a build)."""
    with connect(app_db(db)) as conn:
        value = conn.exec_driver_sql(
            f"SELECT last_id FROM {app_table(conn, 'rollup_state')} WHERE name = '{STATE}'").scalar()
    return None if value is None else int(value)


def dirty_hours(db: Connectable, covered: datetime) -> frozenset[datetime]:
    """The UTC hours before ``covered`` holding runs written since the rollups' last cycle (a run
    that arrived late): until the next refresh recomputes them, readers count those hours from the
    raw table instead of from rollups that miss the run."""
    seen = last_id(db)
    if seen is None:
        return frozenset()
    return frozenset(hours_after_id(db, seen, covered))


def _combine(parts: list[pd.DataFrame], key: list[str], values: list[str]) -> pd.DataFrame:
    parts = [p[key + values] for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=key + values)
    frame = pd.concat(parts, ignore_index=True)
    numbers = frame[values].astype({c: "float64" if c in SECONDS else "int64" for c in values})
    frame = pd.concat([frame[key].reset_index(drop=True), numbers.reset_index(drop=True)], axis=1)
    return _sum_by(frame, key, values)


DURATION_KEY = ["day", "crm_source"]
DURATION_VALUES = ["duration_count", *DURATIONS]
TIMED = ("success", "partial")  # the classes whose durations the performance page shows


DAILY = ["runs", "completed", "failed", "partial", "timed_runs", "records", "timed_records", "timed_seconds"]
DAILY_KEY = ("day", "crm_source", "sync_type")


def _daily_sql(b: Binds, name: str, period: str, low: object, high: object, crm_sources, sync_types,
               by: tuple[str, ...] = DAILY_KEY) -> pd.DataFrame:
    """``queries.performance.daily_rollup``'s columns summed per ``by`` over a rollup table in
    SQL (per day, CRM and sync type: a quarter of the rows the per-class key would return)."""
    where = scope.rollups(b, period, low, high, crm_sources, sync_types)
    kind = "DOUBLE PRECISION" if b.postgres else "REAL"
    return _wide_frame(b, f"""
        SELECT {', '.join(by)}, CAST(SUM(runs) AS BIGINT) AS runs,
               CAST(SUM(CASE WHEN status_class = 'success' THEN runs ELSE 0 END) AS BIGINT) AS completed,
               CAST(SUM(CASE WHEN status_class = 'failed' THEN runs ELSE 0 END) AS BIGINT) AS failed,
               CAST(SUM(CASE WHEN status_class = 'partial' THEN runs ELSE 0 END) AS BIGINT) AS partial,
               CAST(SUM(timed_runs) AS BIGINT) AS timed_runs, CAST(SUM(records_processed) AS BIGINT) AS records,
               CAST(SUM(timed_records) AS BIGINT) AS timed_records, CAST(SUM(timed_seconds) AS {kind}) AS timed_seconds
        FROM {app_table(b.conn, name)} WHERE {scope.where(where)}
        GROUP BY {', '.join(by)}""", len(by))


@dataclass(frozen=True)
class Histograms:
    """Duration histograms per (day, CRM): ``counts``' columns are ``DURATION_VALUES``
    (the finished runs, then the buckets), one row per key."""
    keys: list[tuple]
    counts: np.ndarray


def _histogram_part(rows: pd.DataFrame) -> tuple[list[tuple], np.ndarray]:
    return (list(zip(rows["day"], map(key_value, rows["crm_source"]), strict=True)),
            rows[DURATION_VALUES].to_numpy(dtype=np.float64))


def _sum_rows(keys: list[tuple], counts: np.ndarray) -> tuple[list[tuple], np.ndarray]:
    """``counts``' rows summed per key (numpy: the histograms are ~190 columns wide, which
    pandas' groupby handles a column at a time)."""
    index: dict[tuple, int] = {}
    codes = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))
    sums = np.zeros((len(index), counts.shape[1]), dtype=np.float64)
    np.add.at(sums, codes, counts)
    return list(index), sums


def _sum_histograms(parts: list[tuple[list[tuple], np.ndarray]]) -> Histograms:
    parts = [(k, c) for k, c in parts if k]
    if not parts:
        return Histograms([], np.zeros((0, len(DURATION_VALUES))))
    keys = [key for k, _ in parts for key in k]
    return Histograms(*_sum_rows(keys, np.vstack([c for _, c in parts])))


def daily_rows(db: Connectable, start: datetime, end: datetime, covered: datetime, crm_sources=(), sync_types=(),
               durations: bool = False, by: tuple[str, ...] = DAILY_KEY) -> tuple[pd.DataFrame, Histograms | None]:
    """``queries.performance.daily_rollup``'s frame for runs started in [start, end) (summed per
    ``by``, a part of its key: the errors page needs CRMs only), and (with ``durations``) the
    duration histograms of finished runs that succeeded or were partial per day and CRM. The raw
    edges are read once for both; whole days of the histograms come from ``duration_days`` (no
    sync type in it) unless a sync type is chosen."""
    raw, rolled = _plan(start, end, covered, dirty_hours(db, covered))
    edges = [hour_rows(db, a, b, crm_sources, sync_types, histogram=durations) for a, b in raw]
    counts = [daily_rollup_from(e) for e in edges]
    histograms = [_histogram_part(e[e["status_class"].isin(TIMED)]) for e in edges]
    if rolled:
        with connect(app_db(db)) as conn:
            for name, period, low, high in rolled:
                counts.append(_daily_sql(Binds(conn), name, period, low, high, crm_sources, sync_types, by))
                if not durations:
                    continue
                b = Binds(conn)
                if name == "run_days" and not sync_types:
                    statement = _rollup_statement(b, "duration_days", period, low, high, crm_sources, (), (),
                                                  DURATION_KEY, DURATION_VALUES)
                else:
                    statement = _rollup_statement(b, name, period, low, high, crm_sources, sync_types, TIMED,
                                                  DURATION_KEY, DURATION_VALUES)
                histograms.append(_wide_rows(b, statement, len(DURATION_KEY))[:2])
    parts = [c for c in counts if not c.empty]
    if parts:
        frame = pd.concat(parts, ignore_index=True)
        numbers = frame[DAILY].astype({c: "float64" if c == "timed_seconds" else "int64" for c in DAILY})
        frame = _sum_by(pd.concat([frame[list(by)], numbers], axis=1), list(by), DAILY)
    else:
        frame = pd.DataFrame(columns=[*by, *DAILY])
    frame = frame.sort_values(list(by)).reset_index(drop=True)
    return frame, _sum_histograms(histograms) if durations else None


def window_rows(db: Connectable, start: datetime | None, end: datetime | None, covered: datetime,
                crm_sources=(), sync_types=(), classes: tuple[str, ...] = ()) -> pd.DataFrame:
    """Runs started in [start, end): counts and sums per day, CRM, sync type and class."""
    raw, rolled = _plan(start, end, covered, dirty_hours(db, covered))
    counts = [hour_rows(db, a, b, crm_sources, sync_types, classes, histogram=False) for a, b in raw]
    if rolled:
        with connect(app_db(db)) as conn:
            counts += [_rollup_sql(Binds(conn), name, period, low, high, crm_sources, sync_types, classes,
                                   KEY, COUNTS + SECONDS) for name, period, low, high in rolled]
    return _combine(counts, KEY, COUNTS + SECONDS)


def run_rows(db: Connectable, start: datetime | None, end: datetime | None, covered: datetime,
             crm_sources=(), sync_types=(), classes: tuple[str, ...] = ()) -> pd.DataFrame:
    """Runs started in [start, end) per day, CRM, sync type and class: their counts and sums."""
    return window_rows(db, start, end, covered, crm_sources, sync_types, classes)


def _sum_by(frame: pd.DataFrame, key: list[str], values: list[str]) -> pd.DataFrame:
    """``frame``'s ``values`` summed per ``key``, as one consolidated frame (a groupby with
    as_index=False inserts the key columns one by one into the ~200 columns)."""
    sums = frame.groupby(key, dropna=False)[values].sum()  # a NULL CRM or sync type is a key too
    return pd.concat([sums.index.to_frame(index=False), sums.reset_index(drop=True)], axis=1)


def daily_rollup_from(rows: pd.DataFrame) -> pd.DataFrame:
    """``queries.performance.daily_rollup``'s frame from ``run_rows``."""
    columns = ["day", "crm_source", "sync_type", "runs", "completed", "failed", "partial", "timed_runs", "records",
               "timed_records", "timed_seconds"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    frame = rows.assign(**{name: rows["runs"].where(rows["status_class"] == cls, 0)
                           for name, cls in (("completed", "success"), ("failed", "failed"), ("partial", "partial"))},
                        records=rows["records_processed"])
    sums = ["runs", "completed", "failed", "partial", "timed_runs", "records", "timed_records", "timed_seconds"]
    frame = frame.groupby(["day", "crm_source", "sync_type"], as_index=False, dropna=False)[sums].sum()
    return frame.sort_values(["day", "crm_source", "sync_type"]).reset_index(drop=True)[columns]


def percentiles(histograms: np.ndarray, q: float) -> list[float | None]:
    """``duration_histogram.percentile`` of each row of ``histograms`` at once."""
    totals = histograms.sum(axis=1)
    ranks = np.maximum(1, np.ceil(q * totals))
    index = (histograms.cumsum(axis=1) >= ranks[:, None]).argmax(axis=1)
    middles = np.round(duration_histogram.BASE * duration_histogram.RATIO ** (index + 0.5), 3)
    return [None if t == 0 else (0.0 if i == 0 else float(m)) for t, i, m in zip(totals, index, middles, strict=True)]


def daily_percentiles_from(histograms: Histograms) -> pd.DataFrame:
    """``queries.performance.daily_percentiles``' frame (p50, p95 and runs of finished runs that
    succeeded or were partial, per day and CRM and per day over all) from ``daily_rows``'
    histograms."""
    columns = ["day", "crm_source", "p50", "p95", "runs"]
    if not histograms.keys:
        return pd.DataFrame(columns=columns)
    days, overall = _sum_rows([(day,) for day, _ in histograms.keys], histograms.counts)
    keys = histograms.keys + [(day, ALL) for (day,) in days]
    counts = np.vstack([histograms.counts, overall])
    finished = counts[:, 0] > 0
    keys = [k for k, keep in zip(keys, finished, strict=True) if keep]
    counts = counts[finished]
    result = pd.DataFrame({"day": [k[0] for k in keys], "crm_source": [k[1] for k in keys],
                           "p50": percentiles(counts[:, 1:], 0.5), "p95": percentiles(counts[:, 1:], 0.95),
                           "runs": counts[:, 0].astype("int64")})
    return result.sort_values(["day", "crm_source"]).reset_index(drop=True)[columns]


def error_messages(db: Connectable, start: datetime, end: datetime, covered: datetime) -> pd.DataFrame:
    """``queries.errors.daily_messages``' frame (day, message, runs, failed, partial, last_seen)
    with one row per error class (its sample as the message) for the whole hours before
    ``covered``, summed in SQL, and the raw table's rows for the edges. Counts and last seen are
    exact; a class's sample is its most frequent message in the hour that had the most.
    (``day`` is left empty on the rolled-up rows: ``queries.errors.classes_from`` ignores it.)"""
    raw, spans = _spans(start, end, covered, dirty_hours(db, covered))
    parts = [error_rows(db, a, b) for a, b in raw]
    if spans:
        with connect(app_db(db)) as conn:
            b = Binds(conn)
            t = app_table(conn, "error_hours")
            window = scope.hour_spans(b, spans)
            sums = b.frame(f"""
                SELECT error_class, SUM(runs) AS runs, SUM(failed) AS failed, SUM(partial) AS partial,
                       MAX(last_seen) AS last_seen
                FROM {t} WHERE {window} GROUP BY error_class""")
            samples = b.frame(f"""
                SELECT error_class, MIN(sample) AS sample FROM {t}
                WHERE {window} AND (error_class, sample_runs) IN (
                    SELECT error_class, MAX(sample_runs) FROM {t} WHERE {window} GROUP BY error_class)
                GROUP BY error_class""")
        parts.append(sums.merge(samples, on="error_class", how="left").assign(day=""))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=["day", "message", "runs", "failed", "partial", "last_seen"])
    frame = pd.concat(parts, ignore_index=True)
    frame["last_seen"] = to_utc(pd.to_datetime(frame["last_seen"]), UTC)  # type: ignore[arg-type]
    frame = frame.rename(columns={"sample": "message"})
    frame[["runs", "failed", "partial"]] = frame[["runs", "failed", "partial"]].astype("int64")
    return frame[["day", "message", "runs", "failed", "partial", "last_seen"]]
