"""django-celery-beat's tasks with their schedules, read from wherever beat's tables are
(``queries.table_shape`` finds them), one row per task.

Each row has ``beat_id``, ``beat_name``, ``beat_task``, ``beat_kwargs``, ``beat_enabled``,
``beat_last_run_at``, ``beat_date_changed``, ``beat_start_time``, ``beat_expires``,
``beat_one_off``, ``beat_total_run_count``, the four schedule ids (``beat_interval_id``,
``beat_crontab_id``, ``beat_solar_id``, ``beat_clocked_id``) and each schedule's fields:
``beat_every``, ``beat_period``; ``beat_minute`` ... ``beat_month_of_year``, ``beat_timezone``;
``beat_event``, ``beat_latitude``, ``beat_longitude``; ``beat_clocked_time`` (NULL where beat's
tables lack a column). ``queries.beat_firing.BeatTask.from_row`` reads one.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection

from queries._sql import Connectable, sql
from queries.table_shape import BEAT_TASK, Shape, with_shape

MAX_TASKS = 20_000  # beat holds dozens to thousands; a sync whose task is past it says so
TIMES = ("beat_last_run_at", "beat_date_changed", "beat_start_time", "beat_expires", "beat_clocked_time")
_TASK = ("id", "name", "task", "kwargs", "enabled", "last_run_at", "date_changed", "start_time", "expires",
         "one_off", "total_run_count", "interval_id", "crontab_id", "solar_id", "clocked_id")
_SCHEDULES = (  # (table, alias, the task's column, the columns read)
    ("django_celery_beat_intervalschedule", "bi", "interval_id", ("every", "period")),
    ("django_celery_beat_crontabschedule", "bc", "crontab_id",
     ("minute", "hour", "day_of_week", "day_of_month", "month_of_year", "timezone")),
    ("django_celery_beat_solarschedule", "bs", "solar_id", ("event", "latitude", "longitude")),
    ("django_celery_beat_clockedschedule", "bk", "clocked_id", ("clocked_time",)),
)


def _statement(shape: Shape) -> str:
    columns = [f"pt.{c} AS beat_{c}" if shape.has(BEAT_TASK, c) else f"NULL AS beat_{c}" for c in _TASK]
    joins = ""
    for name, alias, key, fields in _SCHEDULES:
        joined = shape.has(BEAT_TASK, key) and shape.has(name, "id")
        if joined:
            joins += f" LEFT JOIN {shape.beat_table(name)} {alias} ON {alias}.id = pt.{key}"
        columns += [f"{alias}.{f} AS beat_{f}" if joined and shape.has(name, f) else f"NULL AS beat_{f}"
                    for f in fields]
    # timezone: a text column (django-timezone-field); latitude/longitude numeric: both read as they are
    return (f"SELECT {', '.join(columns)} FROM {shape.beat_table(BEAT_TASK)} pt{joins} "
            f"ORDER BY pt.id LIMIT {MAX_TASKS}")


def _read(conn: Connection, shape: Shape) -> list[dict]:
    if not shape.has_beat or shape.beat_problem:
        return []
    # plain rows: a DataFrame and back costs more than the arithmetic on 5,000 tasks
    result = conn.execute(sql(_statement(shape), times=TIMES))
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.fetchall()]


def beat_tasks(db: Connectable) -> list[dict]:
    """Every beat task (at most MAX_TASKS), or none when beat's tables are absent or unreadable
    (``table_shape.shape(db).beat_note`` and ``beat_problem`` say which)."""
    return with_shape(db, _read)


def schedule_id_in(kwargs: object) -> int | None:
    """``{"schedule_id": N}`` in a task's kwargs or a run's configuration (a dict or JSON text),
    as the warehouse's tasks and the runs they start carry it; None for anything else."""
    try:
        value = json.loads(kwargs) if isinstance(kwargs, str) else kwargs
    except ValueError:
        return None
    found = value.get("schedule_id") if isinstance(value, dict) else None
    try:
        return int(found) if found is not None and not isinstance(found, bool) else None
    except (TypeError, ValueError, OverflowError):  # 1e400 in JSON text is infinity
        return None
