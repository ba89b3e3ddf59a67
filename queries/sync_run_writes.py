"""The recorder's statements on the user's ``sync_history`` (``dashapp/recording/recorder.py``,
the only writer of it): opening a run, writing its counts and its close, and closing the runs a
dead worker left open. Each runs on the recorder's Connection; the recorder commits (or leaves
the commit to its caller). Values are as the table holds them (times bound with ``bind_time``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from queries._sync_tables import sync_history


def insert_run(conn: Connection, values: dict[str, Any]) -> int:
    """A new sync_history row; returns its id."""
    return int(conn.execute(insert(sync_history).values(**values)).inserted_primary_key[0])


def update_run(conn: Connection, run_id: int | None, values: dict[str, Any]) -> None:
    """Write ``values`` on run ``run_id``."""
    conn.execute(update(sync_history).where(sync_history.c.id == run_id).values(**values))


def open_runs_started_before(conn: Connection, statuses: Sequence[str], before: datetime) -> Sequence[Row]:
    """id, start_time and performance_metrics of the runs whose status is one of ``statuses``
    that started before ``before``."""
    return conn.execute(
        select(sync_history.c.id, sync_history.c.start_time, sync_history.c.performance_metrics)
        .where(sync_history.c.status.in_(statuses))
        .where(sync_history.c.start_time < before)
    ).all()


def close_open_run(conn: Connection, run_id: int, statuses: Sequence[str], reason: str, ended: datetime) -> int:
    """Close run ``run_id`` as ``failed`` with ``reason``, ended at ``ended``, if its status is
    still one of ``statuses``; returns 1, or 0 when it was closed meanwhile."""
    return conn.execute(
        update(sync_history)
        .where(sync_history.c.id == run_id, sync_history.c.status.in_(statuses))
        .values(status="failed", error_message=reason, end_time=ended)
    ).rowcount
