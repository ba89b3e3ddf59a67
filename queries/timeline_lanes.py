"""The timeline's swimlanes: one lane per CRM, its runs that started in [start, end).

``lanes`` picks a page of CRMs (those with failed or partial runs first, then by their name) with
their run counts; ``lane_runs`` reads the runs of the CRMs that have few of them, one row a run;
``lane_buckets`` sums the runs of the CRMs that have many into time buckets (one row per CRM and
bucket, with its count per status class), so a lane never holds more than a bounded number of bars.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries import outcomes, scope
from queries._sql import Binds, Connectable, connect, known_duration_sql, table

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


def bucket_sql(b: Binds, start: datetime, seconds: int) -> str:
    """SQL: the bucket of ``seconds`` (counted from ``start``) a run's start_time falls in."""
    low = b.bind(start)
    if b.postgres:
        return f"FLOOR(EXTRACT(EPOCH FROM (h.start_time - {low})) / {int(seconds)})"
    return f"CAST((julianday(h.start_time) - julianday({low})) * 86400.0 / {int(seconds)} AS INTEGER)"


def lane_buckets(db: Connectable, start: datetime, end: datetime, crm_sources: tuple[str, ...],
                 bucket_seconds: int, sync_types: tuple[str, ...] = ()) -> pd.DataFrame:
    """The runs of ``crm_sources`` that started in [start, end), summed per CRM into buckets of
    ``bucket_seconds`` from ``start`` (bucket 0 starts at ``start``): crm_source, bucket, runs, their
    count per class (success, failed, partial, running; ``other``: an unknown status), and the
    lowest and highest run id."""
    if not crm_sources:
        return pd.DataFrame(columns=BUCKET_COLUMNS)
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        bucket = bucket_sql(b, start, max(1, int(bucket_seconds)))
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
