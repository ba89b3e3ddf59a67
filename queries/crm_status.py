"""One row per crm_source: its most recent run by start_time and its next scheduled sync."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries._sql import Connectable, connect, has_table, read_frame, sql, table
from queries.durations import add_duration
from queries.next_run import next_run

TIMES = ("start_time", "end_time")
SCHEDULE_TIMES = ("last_run", "next_run")

# DISTINCT ON (crm_source) would sort the whole table (4 s on 5M rows, shared/reference/
# sql-floor.md). Instead a recursive "skip scan" walks the (crm_source, sync_type) index from one
# CRM to the next, and each CRM's newest run is one short index probe: milliseconds. The same
# SQL runs on SQLite.
_LATEST_PER_CRM = """
WITH RECURSIVE crms(crm_source) AS (
    SELECT MIN(crm_source) FROM {h}
    UNION ALL
    SELECT (SELECT MIN(n.crm_source) FROM {h} n WHERE n.crm_source > crms.crm_source)
    FROM crms WHERE crms.crm_source IS NOT NULL
)
SELECT r.id, r.crm_source, r.sync_type, r.status, r.start_time, r.end_time,
       r.records_processed, r.records_created, r.records_updated, r.records_failed,
       r.error_message
FROM {h} r
WHERE r.id IN (
    SELECT (SELECT l.id FROM {h} l
            WHERE l.crm_source = crms.crm_source
            ORDER BY l.start_time DESC, l.id DESC LIMIT 1)
    FROM crms WHERE crms.crm_source IS NOT NULL
)
ORDER BY r.crm_source
"""

_ENABLED_SCHEDULES = """
SELECT crm_source, recurrence_type, every, period, crontab_minute, crontab_hour,
       crontab_day_of_week, crontab_day_of_month, crontab_month_of_year, last_run, next_run
FROM {s}
WHERE enabled
"""


def latest_run_per_crm(db: Connectable, now: datetime) -> pd.DataFrame:
    with connect(db) as conn:
        frame = read_frame(
            conn, sql(_LATEST_PER_CRM.format(h=table(conn, "sync_history")), times=TIMES),
            times=TIMES,
        )
    return add_duration(frame, now)


def enabled_schedules(db: Connectable) -> pd.DataFrame | None:
    """The enabled rows of sync_schedule, or None when the installation has no such table."""
    with connect(db) as conn:
        if not has_table(conn, "sync_schedule"):
            return None
        return read_frame(
            conn, sql(_ENABLED_SCHEDULES.format(s=table(conn, "sync_schedule")), times=SCHEDULE_TIMES),
            times=SCHEDULE_TIMES,
        )


def next_sync_per_crm(schedules: pd.DataFrame | None, now: datetime) -> dict[str, tuple]:
    """crm_source -> (earliest next run or None, why there is none or None)."""
    if schedules is None:
        return {}
    found: dict[str, tuple] = {}
    for row in schedules.to_dict("records"):
        moment, why = next_run(row, now)
        crm = row["crm_source"]
        best = found.get(crm)
        if moment is not None and (best is None or best[0] is None or moment < best[0]):
            found[crm] = (moment, None)
        elif best is None:
            found[crm] = (None, why)
    return found


def crm_status(db: Connectable, now: datetime) -> pd.DataFrame:
    """The latest run of each CRM, with ``next_sync`` (UTC or NaT) and ``next_sync_note``."""
    with connect(db) as conn:
        latest = latest_run_per_crm(conn, now)
        schedules = enabled_schedules(conn)
        schema_table = table(conn, "sync_schedule")
    upcoming = next_sync_per_crm(schedules, now)
    if schedules is None:
        missing = f"no schedules: table {schema_table} does not exist"
        notes = [missing] * len(latest)
        moments = [None] * len(latest)
    else:
        pairs = [upcoming.get(crm, (None, "no enabled schedule")) for crm in latest["crm_source"]]
        moments = [p[0] for p in pairs]
        notes = [p[1] for p in pairs]
    next_sync = pd.Series(pd.to_datetime(moments, utc=True), index=latest.index)
    return latest.assign(next_sync=next_sync, next_sync_note=notes)
