"""The rows of ``sync_schedule``, in either shape, with the same columns whatever the shape.

Every row comes back with ``id``, ``crm_source``, ``model_name``, ``enabled``, ``recurrence_type``,
``every``, ``period``, the five crontab fields as ``minute``, ``hour``, ``day_of_week``,
``day_of_month``, ``month_of_year`` (``crontab_*`` in the documented shape), ``last_run``,
``next_run``, ``start_at``, ``end_at`` and ``periodic_task_id`` (NULL where the shape has no such
column). The django-celery-beat task a row names is read by ``queries.beat_tasks``;
``queries.crm_status`` puts the two together.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection

from queries._sql import Connectable, read_frame, sql, table
from queries.table_shape import Shape, with_shape

CRON_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
TIMES = ("last_run", "next_run", "start_at", "end_at")
MAX_SCHEDULES = 20_000  # a warehouse has dozens to thousands; the bound keeps a broken table from flooding a page


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


def _read(conn: Connection, shape: Shape) -> pd.DataFrame | None:
    if not shape.has("sync_schedule"):
        return None
    statement = (f"SELECT {', '.join(_own_columns(shape))} "
                 f"FROM {table(conn, 'sync_schedule')} s ORDER BY 1 LIMIT {MAX_SCHEDULES}")
    return read_frame(conn, sql(statement, times=TIMES), times=TIMES)


def all_schedules(db: Connectable) -> pd.DataFrame | None:
    """Every row of sync_schedule with its beat task, or None when there is no such table."""
    return with_shape(db, _read)
