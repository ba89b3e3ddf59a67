"""The worker side of retries: Celery signals that move an operation queued -> running ->
resolved, failed or abandoned, for any task sent by the console (its task id names the operation
and the attempt: ``sync-monitor-retry-<sync_id>-<attempt>``).

``celery -A dashapp.worker worker`` loads this module. A warehouse that runs RETRY_TASK in a worker
of its own adds ``import dashapp.retries.tracking`` to that worker's modules (or its ``imports``
setting), so the console sees its retries run and finish.

A task's outcome: an exception is a failed attempt (its message kept); a returned dict whose
``status`` is ``failed`` or ``partial`` too; anything else resolves the operation. Every update
names the attempt, so a late message from an older attempt never overwrites a newer one.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import task_failure, task_prerun, task_success
from sqlalchemy import Engine, case, update

from dashapp.retries.task_ids import parse_task_id
from dashapp.storage.app_tables import failed_operations as operations
from dashapp.storage.app_tables import operation_attempts as attempts
from queries._sql import app_db, utc_now

log = logging.getLogger(__name__)


def _engine() -> Engine:
    from dashapp.recording.recorder import default_engine

    return default_engine()


def _now():
    return utc_now().replace(tzinfo=None)


def started(engine: Engine, task_id: str) -> None:
    parsed = parse_task_id(task_id)
    if parsed is None:
        return
    sync_id, attempt = parsed
    now = _now()
    with app_db(engine).begin() as conn:
        conn.execute(update(operations)
                     .where(operations.c.sync_id == sync_id, operations.c.attempts == attempt,
                            operations.c.state.in_(("queued", "running")))
                     .values(state="running", started_at=now, updated_at=now))
        conn.execute(update(attempts).where(attempts.c.task_id == task_id, attempts.c.state.in_(("queued", "running")))
                     .values(state="running", started_at=now))


def attach_run(engine: Engine, task_id: str, run_id: int) -> None:
    """Link the sync_history run a retry recorded to its attempt (the retry task calls this)."""
    with app_db(engine).begin() as conn:
        conn.execute(update(attempts).where(attempts.c.task_id == task_id).values(run_id=run_id))


def finished(engine: Engine, task_id: str, error: str | None, run_id: int | None = None) -> None:
    """The attempt ended: resolved when ``error`` is None, else failed (abandoned at the cap)."""
    parsed = parse_task_id(task_id)
    if parsed is None:
        return
    sync_id, attempt = parsed
    now = _now()
    if error is None:
        values: dict[str, Any] = {"state": "resolved", "resolved_by_run": run_id}
    else:
        values = {"state": case((operations.c.attempts >= operations.c.max_attempts, "abandoned"), else_="failed"),
                  "last_error": error[:4000]}
    with app_db(engine).begin() as conn:
        conn.execute(update(operations)
                     .where(operations.c.sync_id == sync_id, operations.c.attempts == attempt,
                            operations.c.state.in_(("queued", "running")))
                     .values(**values, finished_at=now, updated_at=now))
        run = {"run_id": run_id} if run_id is not None else {}
        conn.execute(update(attempts).where(attempts.c.task_id == task_id)
                     .values(state="resolved" if error is None else "failed", finished_at=now,
                             error=None if error is None else error[:4000], **run))


def outcome(result: Any) -> tuple[str | None, int | None]:
    """(error or None, run id or None) from a retry task's return value."""
    if isinstance(result, dict):
        run_id = result.get("sync_id")
        run_id = int(run_id) if isinstance(run_id, int) else None
        if result.get("status") in ("failed", "partial"):
            return str(result.get("error") or f"the retried run ended {result['status']}"), run_id
        return None, run_id
    return None, result if isinstance(result, int) and not isinstance(result, bool) else None


def _safely(what: str, function, *args) -> None:
    try:
        function(_engine(), *args)
    except Exception:  # noqa: BLE001 - tracking must never fail the task itself
        log.exception("could not record that retry task %s %s", args[0], what)


@task_prerun.connect
def _on_prerun(task_id: str | None = None, **_: Any) -> None:
    if parse_task_id(task_id):
        _safely("started", started, task_id)


@task_success.connect
def _on_success(sender: Any = None, result: Any = None, **_: Any) -> None:
    task_id = getattr(getattr(sender, "request", None), "id", None)
    if parse_task_id(task_id):
        error, run_id = outcome(result)
        _safely("finished", finished, task_id, error, run_id)


@task_failure.connect
def _on_failure(task_id: str | None = None, exception: BaseException | None = None, **_: Any) -> None:
    if parse_task_id(task_id):
        message = f"{type(exception).__name__}: {exception}" if exception is not None and str(exception) else (
            type(exception).__name__ if exception is not None else "the task failed")
        _safely("failed", finished, task_id, message)
