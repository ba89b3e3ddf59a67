"""Claiming failed operations for a retry (the app's ``failed_operations`` and
``operation_attempts`` tables). ``dashapp/retries/claiming.py`` runs these in one transaction of
its own on the app's database, on its Connection, in this order: the write lock, the new
operations, the abandoned ones, the claim, the claims' task ids and attempts, the states of the
others. Times are naive UTC."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from queries._app_tables import failed_operations as operations
from queries._app_tables import operation_attempts as attempts
from queries._sql import Connectable, app_db, begin


def lock_for_claims(conn: Connection) -> None:
    """On SQLite, take the write lock first (BEGIN IMMEDIATE): two readers cannot both upgrade.
    PostgreSQL's conditional UPDATEs need nothing more."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def add_operations(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """A failed_operations row for each failed run not yet in the table (an existing one stays)."""
    if rows:
        conn.execute((pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(operations)
                     .on_conflict_do_nothing(), rows)


def _claimable(stale_before: datetime) -> ColumnElement[bool]:
    """Failed, or queued or running since before ``stale_before`` (its message lost, its worker killed)."""
    return or_(operations.c.state == "failed", and_(
        operations.c.state.in_(("queued", "running")), operations.c.updated_at < stale_before))


def abandon(conn: Connection, sync_ids: list[int], cap: int, stale_before: datetime, now: datetime) -> None:
    """The claimable operations among ``sync_ids`` that reached ``cap`` attempts become ``abandoned``."""
    conn.execute(update(operations)
                 .where(operations.c.sync_id.in_(sync_ids), _claimable(stale_before), operations.c.attempts >= cap)
                 .values(state="abandoned", updated_at=now))


def claim(conn: Connection, sync_ids: list[int], cap: int, stale_before: datetime, now: datetime) -> Sequence[Row]:
    """Claim the claimable operations among ``sync_ids`` below ``cap`` attempts with one conditional
    UPDATE: ``queued``, attempts + 1. Returns the claims: sync_id, attempts, crm_source,
    operation_type, payload."""
    return conn.execute(
        update(operations)
        .where(operations.c.sync_id.in_(sync_ids), _claimable(stale_before), operations.c.attempts < cap)
        .values(state="queued", attempts=operations.c.attempts + 1, max_attempts=cap, queued_at=now,
                started_at=None, finished_at=None, updated_at=now)
        .returning(operations.c.sync_id, operations.c.attempts, operations.c.crm_source,
                   operations.c.operation_type, operations.c.payload)).all()


def add_attempts(conn: Connection, task_ids: dict[int, str], rows: list[dict[str, Any]]) -> None:
    """The claims' task ids (sync id -> task id) on their operations, and one operation_attempts
    row each (``rows``)."""
    conn.execute(update(operations).where(operations.c.sync_id == bindparam("b_id"))
                 .values(task_id=bindparam("b_task")),
                 [{"b_id": sync_id, "b_task": task_id} for sync_id, task_id in task_ids.items()])
    conn.execute(insert(attempts), rows)


def states(conn: Connection, sync_ids: list[int]) -> Sequence[Row]:
    """sync_id, state and attempts of the operations among ``sync_ids``."""
    return conn.execute(select(operations.c.sync_id, operations.c.state, operations.c.attempts)
                        .where(operations.c.sync_id.in_(sync_ids))).all()


def give_back(db: Connectable, claims: list[tuple[int, str]], error: str, now: datetime) -> None:
    """Claims (sync id, task id) the broker did not take, in one transaction on the app's
    database: back to failed with ``error``, the attempt not counted and its row deleted."""
    with begin(app_db(db)) as conn:
        for sync_id, task_id in claims:
            conn.execute(update(operations)
                         .where(operations.c.sync_id == sync_id, operations.c.task_id == task_id,
                                operations.c.state == "queued")
                         .values(state="failed", attempts=operations.c.attempts - 1, task_id=None,
                                 last_error=error, updated_at=now))
            conn.execute(delete(attempts).where(attempts.c.task_id == task_id))
