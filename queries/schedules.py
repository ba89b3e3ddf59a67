"""The rows of ``sync_schedule``, in either shape, each with the django-celery-beat task that
fires it when there is one.

Whatever the shape, every row comes back with the same columns: ``id``, ``crm_source``,
``model_name``, ``enabled``, ``recurrence_type``, ``every``, ``period``, the five crontab fields
as ``minute``, ``hour``, ``day_of_week``, ``day_of_month``, ``month_of_year`` (``crontab_*`` in
the documented shape), ``last_run``, ``next_run``, ``start_at``, ``end_at`` (NULL where the shape
has no such column), and from beat: ``beat_found`` (1 when ``periodic_task_id`` names a task),
``beat_enabled``, ``beat_last_run_at``, ``beat_start_time``, ``beat_expires``, ``beat_one_off``,
``beat_total_run_count``, ``beat_every``, ``beat_period``, ``beat_minute`` ... ``beat_month_of_year``
and ``beat_timezone``. ``queries.next_run`` turns a row into its next run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection

from queries._sql import Connectable, read_frame, sql, table
from queries.next_run import interval
from queries.table_shape import Shape, with_shape

CRON_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
TIMES = ("last_run", "next_run", "start_at", "end_at", "beat_last_run_at", "beat_start_time", "beat_expires")
MAX_SCHEDULES = 5000  # a warehouse has dozens; the bound keeps a broken table from flooding a page


def _own_columns(shape: Shape) -> list[str]:
    def pick(name: str, *candidates: str) -> str:
        for candidate in candidates:
            if shape.has("sync_schedule", candidate):
                return f's."{candidate}" AS {name}'
        return f"NULL AS {name}"

    columns = [pick(c, c) for c in ("id", "crm_source", "model_name", "recurrence_type", "every", "period")]
    columns.append(pick("enabled", "enabled"))
    columns += [pick(c, f"crontab_{c}", c) for c in CRON_FIELDS]
    columns += [pick(c, c) for c in ("last_run", "next_run", "start_at", "end_at", "periodic_task_id")]
    return columns


_BEAT_TASK = {"beat_enabled": "enabled", "beat_last_run_at": "last_run_at", "beat_start_time": "start_time",
              "beat_expires": "expires", "beat_one_off": "one_off", "beat_total_run_count": "total_run_count"}


def _beat_parts(shape: Shape) -> tuple[list[str], str]:
    """The beat columns of the SELECT and the joins that bring them (NULLs without beat)."""
    names = [*_BEAT_TASK, "beat_every", "beat_period", *(f"beat_{c}" for c in CRON_FIELDS), "beat_timezone"]
    if not (shape.has_beat and shape.has("sync_schedule", "periodic_task_id")):
        return ["0 AS beat_found", *(f"NULL AS {n}" for n in names)], ""
    task, interval, crontab = ("django_celery_beat_periodictask", "django_celery_beat_intervalschedule",
                               "django_celery_beat_crontabschedule")
    columns = ["CASE WHEN pt.id IS NULL THEN 0 ELSE 1 END AS beat_found"]
    columns += [f"pt.{c} AS {n}" if shape.has(task, c) else f"NULL AS {n}" for n, c in _BEAT_TASK.items()]
    joins = f" LEFT JOIN {shape.beat_table(task)} pt ON pt.id = s.periodic_task_id"
    if shape.has(task, "interval_id") and shape.has(interval, "every") and shape.has(interval, "period"):
        joins += f" LEFT JOIN {shape.beat_table(interval)} bi ON bi.id = pt.interval_id"
        columns += ["bi.every AS beat_every", "bi.period AS beat_period"]
    else:
        columns += ["NULL AS beat_every", "NULL AS beat_period"]
    if shape.has(task, "crontab_id") and all(shape.has(crontab, c) for c in CRON_FIELDS):
        joins += f" LEFT JOIN {shape.beat_table(crontab)} bc ON bc.id = pt.crontab_id"
        columns += [f"bc.{c} AS beat_{c}" for c in CRON_FIELDS]
        columns.append("bc.timezone AS beat_timezone" if shape.has(crontab, "timezone") else "NULL AS beat_timezone")
    else:
        columns += [f"NULL AS beat_{c}" for c in CRON_FIELDS] + ["NULL AS beat_timezone"]
    return columns, joins


def _read(conn: Connection, shape: Shape) -> pd.DataFrame | None:
    if not shape.has("sync_schedule"):
        return None
    beat_columns, joins = _beat_parts(shape)
    statement = (f"SELECT {', '.join(_own_columns(shape) + beat_columns)} "
                 f"FROM {table(conn, 'sync_schedule')} s{joins} ORDER BY 1 LIMIT {MAX_SCHEDULES}")
    return read_frame(conn, sql(statement, times=TIMES), times=TIMES)


def all_schedules(db: Connectable) -> pd.DataFrame | None:
    """Every row of sync_schedule with its beat task, or None when there is no such table."""
    return with_shape(db, _read)


def enabled_schedules(db: Connectable) -> pd.DataFrame | None:
    """The enabled rows (all of them when the shape has no ``enabled`` column), or None."""
    frame = all_schedules(db)
    if frame is None:
        return None
    enabled = frame["enabled"].map(lambda v: v is None or v != v or bool(v))
    return frame[enabled].reset_index(drop=True)


def crm_intervals(db: Connectable, now: datetime) -> dict[str, tuple[timedelta, str]]:
    """crm_source -> (how often its most frequent schedule that will still fire runs, where that
    comes from: ``beat`` or ``schedule``). The ``late`` alert rule and ``/metrics`` both read it."""
    found: dict[str, tuple[timedelta, str]] = {}
    schedules = enabled_schedules(db)
    for row in ([] if schedules is None else schedules.to_dict("records")):
        every = interval(row, now)
        source = "beat" if row.get("beat_found") and row["beat_found"] == row["beat_found"] and int(
            row["beat_found"]) else "schedule"
        if every is not None and (row["crm_source"] not in found or every < found[row["crm_source"]][0]):
            found[row["crm_source"]] = (every, source)
    return found
