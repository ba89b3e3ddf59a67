"""The timeline's swimlanes: one lane per CRM, its runs that started in [start, end).

``lanes`` picks a page of CRMs (those with failed or partial runs first, then by their name) with
their run counts; ``lane_runs`` reads the runs of the CRMs that have few of them, one row a run;
``lane_buckets`` sums the runs of the CRMs that have many into time buckets (one row per CRM and
bucket, with its count per status class), so a lane never holds more than a bounded number of bars.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from queries import outcomes, run_rollups, scope
from queries._sql import Binds, Connectable, app_db, app_table, connect, known_duration_sql, sql, table
from queries.run_rollups.hours import floor_hour, naive_utc

LANE_COLUMNS = ["crm_source", "runs", "problems", "total"]
RUN_COLUMNS = ["id", "crm_source", "sync_type", "status", "status_class", "start_time", "end_time"]
BUCKET_COLUMNS = ["crm_source", "bucket", "runs", "success", "failed", "partial", "running", "other",
                  "first_id", "last_id"]
MAX_LANES = 200  # lanes read at once, whatever a caller asks


def _classes(conn, column: str = "h.status") -> dict[str, str]:
    return {c: outcomes.in_class(conn, c, column=column) for c in outcomes.CLASSES}


def lanes(db: Connectable, start: datetime, end: datetime, crm_sources: tuple[str, ...] = (),
          sync_types: tuple[str, ...] = (), limit: int = 40, offset: int = 0) -> pd.DataFrame:
    """A page of the CRMs with runs that started in [start, end): crm_source, runs, problems (failed
    and partial runs) and ``total`` (the count of all such CRMs, the same on every row); problems
    first, then by CRM."""
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        where = scope.runs(b, start=start, end=end, crm_sources=crm_sources, sync_types=sync_types, alias="h.")
        problem = outcomes.in_class(conn, "failed", "partial", column="h.status")
        statement = f"""
            SELECT h.crm_source, COUNT(*) AS runs, SUM(CASE WHEN {problem} THEN 1 ELSE 0 END) AS problems,
                   COUNT(*) OVER () AS total
            FROM {h} h WHERE {scope.where(where)}
            GROUP BY h.crm_source
            ORDER BY CASE WHEN SUM(CASE WHEN {problem} THEN 1 ELSE 0 END) > 0 THEN 0 ELSE 1 END, h.crm_source
            LIMIT {max(1, min(int(limit), MAX_LANES))} OFFSET {max(0, int(offset))}"""
        return b.frame(statement)


def lane_runs(db: Connectable, start: datetime, end: datetime, crm_sources: tuple[str, ...],
              sync_types: tuple[str, ...] = (), limit: int = 5000) -> pd.DataFrame:
    """The runs of ``crm_sources`` (at least one) that started in [start, end), oldest first, at
    most ``limit``: id, crm_source, sync_type, status, status_class (NULL for an unknown status),
    start_time and end_time (UTC; NULL while running and where either time is ±infinity)."""
    if not crm_sources:
        return pd.DataFrame(columns=RUN_COLUMNS)
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        where = scope.runs(b, start=start, end=end, crm_sources=crm_sources, sync_types=sync_types, alias="h.")
        statement = f"""
            SELECT h.id, h.crm_source, h.sync_type, h.status, {outcomes.class_case(conn, 'h.status')} AS status_class,
                   h.start_time, CASE WHEN {known_duration_sql(conn, 'h.')} THEN h.end_time END AS end_time
            FROM {h} h WHERE {scope.where(where)}
            ORDER BY h.start_time, h.id LIMIT {max(1, int(limit))}"""
        return b.frame(statement, times=("start_time", "end_time"))


def bucket_sql(b: Binds, anchor: datetime, seconds: int, column: str = "h.start_time") -> str:
    """SQL: the bucket of ``seconds`` (counted from ``anchor``) a run's start_time falls in."""
    low = b.bind(anchor)
    if b.postgres:
        return f"FLOOR(EXTRACT(EPOCH FROM ({column} - {low})) / {int(seconds)})"
    # julianday() is a float of days: round to the millisecond first, or a run on a bucket's edge
    # could fall into the bucket before it
    return f"CAST(ROUND((julianday({column}) - julianday({low})) * 86400.0, 3) / {int(seconds)} AS INTEGER)"


def lane_buckets(db: Connectable, start: datetime, end: datetime, crm_sources: tuple[str, ...],
                 bucket_seconds: int, sync_types: tuple[str, ...] = (), anchor: datetime | None = None) -> pd.DataFrame:
    """The runs of ``crm_sources`` that started in [start, end), summed per CRM into buckets of
    ``bucket_seconds`` from ``anchor`` (default ``start``; bucket 0 starts there): crm_source,
    bucket, runs, their count per class (success, failed, partial, running; ``other``: an unknown
    status), and the lowest and highest run id (NULL where the rollups answered).

    Buckets of whole hours from a whole hour (a window of 5 days or more) are summed from the
    hourly run rollups (``run_hours``) for the hours they cover, and from the raw table for the
    edges, the hours written since their last cycle and those they hold a running run in (it may
    have ended since): a month of a 5M-run table in milliseconds, not a scan of its runs."""
    if not crm_sources:
        return pd.DataFrame(columns=BUCKET_COLUMNS)
    anchor = anchor or start
    seconds = max(1, int(bucket_seconds))
    covered = run_rollups.ready(db) if seconds % 3600 == 0 and naive_utc(anchor) == floor_hour(anchor) else None
    if covered is None:
        return _raw_buckets(db, start, end, crm_sources, seconds, sync_types, anchor)
    dirty = run_rollups.dirty_hours(db, covered)
    _, spans = run_rollups.split_window(start, end, covered, dirty)
    running = _running_hours(db, spans, crm_sources, sync_types)
    raw, spans = run_rollups.split_window(start, end, covered, dirty | running)
    parts = [_raw_buckets(db, low or start, high or end, crm_sources, seconds, sync_types, anchor)
             for low, high in raw]
    if spans:
        parts.append(_rolled_buckets(db, spans, crm_sources, seconds, sync_types, anchor))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=BUCKET_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    counts = ["runs", *outcomes.CLASSES, "other"]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    summed = frame.groupby(["crm_source", "bucket"], dropna=False, sort=True).agg(
        {**dict.fromkeys(counts, "sum"), "first_id": "min", "last_id": "max"}).reset_index()
    return summed[BUCKET_COLUMNS]


def _raw_buckets(db: Connectable, start: datetime, end: datetime, crm_sources: tuple[str, ...], seconds: int,
                 sync_types: tuple[str, ...], anchor: datetime) -> pd.DataFrame:
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        bucket = bucket_sql(b, anchor, seconds)
        where = scope.runs(b, start=start, end=end, crm_sources=crm_sources, sync_types=sync_types, alias="h.")
        known = " OR ".join(_classes(conn).values())
        counts = ", ".join(f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS {name}"
                           for name, condition in _classes(conn).items())
        statement = f"""
            SELECT h.crm_source, {bucket} AS bucket, COUNT(*) AS runs, {counts},
                   SUM(CASE WHEN {known} THEN 0 ELSE 1 END) AS other, MIN(h.id) AS first_id, MAX(h.id) AS last_id
            FROM {h} h WHERE {scope.where(where)}
            GROUP BY 1, 2
            ORDER BY h.crm_source, bucket"""
        return b.frame(statement)


def _rolled_buckets(db: Connectable, spans: list[tuple[datetime, datetime]], crm_sources: tuple[str, ...],
                    seconds: int, sync_types: tuple[str, ...], anchor: datetime) -> pd.DataFrame:
    """The same sums from ``run_hours`` over ``spans`` (whole hours, naive UTC)."""
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        moment = b.bind_app_time(anchor.astimezone(UTC).replace(tzinfo=None))  # the rollups' hours: naive UTC
        bucket = (f"FLOOR(EXTRACT(EPOCH FROM (hour - {moment})) / {seconds})" if b.postgres else
                  f"CAST(ROUND((julianday(hour) - julianday({moment})) * 86400.0, 3) / {seconds} AS INTEGER)")
        where = [scope.hour_spans(b, spans), *scope.rollups(b, "hour", None, None, crm_sources, sync_types)]
        counts = ", ".join(f"SUM(CASE WHEN status_class = '{c}' THEN runs ELSE 0 END) AS {c}"
                           for c in outcomes.CLASSES)
        listed = ", ".join(f"'{c}'" for c in outcomes.CLASSES)
        statement = f"""
            SELECT crm_source, {bucket} AS bucket, SUM(runs) AS runs, {counts},
                   SUM(CASE WHEN status_class IN ({listed}) THEN 0 ELSE runs END) AS other,
                   NULL AS first_id, NULL AS last_id
            FROM {app_table(conn, 'run_hours')} WHERE {scope.where(where)}
            GROUP BY 1, 2"""
        return b.frame(statement)


def _running_hours(db: Connectable, spans: list[tuple[datetime, datetime]], crm_sources: tuple[str, ...],
                   sync_types: tuple[str, ...]) -> frozenset[datetime]:
    """The rolled-up hours in ``spans`` holding a running run of these CRMs and sync types."""
    if not spans:
        return frozenset()
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        where = [scope.hour_spans(b, spans), *scope.rollups(b, "hour", None, None, crm_sources, sync_types,
                                                            ("running",))]
        rows = conn.execute(sql(f"SELECT DISTINCT hour FROM {app_table(conn, 'run_hours')} WHERE {scope.where(where)}",
                                params=tuple(b.time_params)), b.params)
        return frozenset(floor_hour(pd.Timestamp(str(value)).to_pydatetime().replace(tzinfo=None))
                         for (value,) in rows)
