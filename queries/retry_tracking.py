"""The worker's updates of a retry's state (the app's ``failed_operations`` and
``operation_attempts`` tables), each in a transaction of its own on the app's database. Every
update names the attempt, so a late message from an older attempt never overwrites a newer one.
Times are naive UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, update

from queries._app_tables import failed_operations as operations
from queries._app_tables import operation_attempts as attempts
from queries._sql import Connectable, app_db, begin


def started(db: Connectable, sync_id: int, attempt: int, task_id: str, now: datetime) -> None:
    """Attempt ``attempt`` of operation ``sync_id`` (task ``task_id``) is running."""
    with begin(app_db(db)) as conn:
        conn.execute(update(operations)
                     .where(operations.c.sync_id == sync_id, operations.c.attempts == attempt,
                            operations.c.state.in_(("queued", "running")))
                     .values(state="running", started_at=now, updated_at=now))
        conn.execute(update(attempts).where(attempts.c.task_id == task_id, attempts.c.state.in_(("queued", "running")))
                     .values(state="running", started_at=now))


def attach_run(db: Connectable, task_id: str, run_id: int) -> None:
    """The sync_history run a retry recorded, on its attempt."""
    with begin(app_db(db)) as conn:
        conn.execute(update(attempts).where(attempts.c.task_id == task_id).values(run_id=run_id))


def finished(db: Connectable, sync_id: int, attempt: int, task_id: str, error: str | None, run_id: int | None,
             now: datetime) -> None:
    """The attempt ended: resolved (by ``run_id``) when ``error`` is None, else failed, or
    abandoned when the operation has reached its attempt cap."""
    if error is None:
        values: dict[str, Any] = {"state": "resolved", "resolved_by_run": run_id}
    else:
        values = {"state": case((operations.c.attempts >= operations.c.max_attempts, "abandoned"), else_="failed"),
                  "last_error": error}
    with begin(app_db(db)) as conn:
        conn.execute(update(operations)
                     .where(operations.c.sync_id == sync_id, operations.c.attempts == attempt,
                            operations.c.state.in_(("queued", "running")))
                     .values(**values, finished_at=now, updated_at=now))
        run = {"run_id": run_id} if run_id is not None else {}
        conn.execute(update(attempts).where(attempts.c.task_id == task_id)
                     .values(state="resolved" if error is None else "failed", finished_at=now, error=error, **run))
