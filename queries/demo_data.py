"""What the embedded demo (``dashapp/demo/embedded.py``) reads and writes in its SQLite file
besides the runs ``record_sync`` records: the latest recorded start, and the ``sync_schedule``
rows it keeps (written whole, read for the jobs that are due, stamped when a job starts).
Values are as the tables hold them, except where a function says it binds an aware time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select, update

from queries._sql import bind_time
from queries._sync_tables import sync_history, sync_schedule


def latest_start(conn: Connection) -> Any:
    """MAX(start_time) of sync_history, as the driver returns it (None when there are no runs)."""
    return conn.execute(select(func.max(sync_history.c.start_time))).scalar()


def latest_starts(conn: Connection) -> Sequence[Row]:
    """(crm_source, sync_type, MAX(start_time)) per pair of sync_history."""
    return conn.execute(
        select(sync_history.c.crm_source, sync_history.c.sync_type, func.max(sync_history.c.start_time))
        .group_by(sync_history.c.crm_source, sync_history.c.sync_type)).all()


def delete_schedules(conn: Connection) -> None:
    conn.execute(sync_schedule.delete())


def add_schedule(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(sync_schedule).values(**row))


def enabled_schedules(engine: Engine) -> Sequence[Row]:
    """crm_source, model_name, every, last_run, crontab_minute, crontab_hour and recurrence_type
    of the enabled schedules."""
    with engine.connect() as conn:
        return conn.execute(select(sync_schedule.c.crm_source, sync_schedule.c.model_name, sync_schedule.c.every,
                                   sync_schedule.c.last_run, sync_schedule.c.crontab_minute,
                                   sync_schedule.c.crontab_hour, sync_schedule.c.recurrence_type)
                            .where(sync_schedule.c.enabled)).all()


def mark_started(engine: Engine, crm_source: str, model_name: str, at: datetime, next_run: datetime | None) -> None:
    """The enabled schedules of the pair fired at ``at`` (aware; bound in the data zone):
    ``last_run``, and, when ``next_run`` is given, ``next_run`` on the rows that keep one."""
    with engine.begin() as conn:
        pair = (sync_schedule.c.crm_source == crm_source, sync_schedule.c.model_name == model_name,
                sync_schedule.c.enabled)
        conn.execute(update(sync_schedule).where(*pair).values(last_run=bind_time(conn, at)))
        if next_run is not None:
            conn.execute(update(sync_schedule).where(*pair, sync_schedule.c.next_run.is_not(None))
                         .values(next_run=bind_time(conn, next_run)))
