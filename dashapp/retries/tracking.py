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
from sqlalchemy import Engine

from dashapp.retries.task_ids import parse_task_id
from queries import retry_tracking
from queries.clock import utc_now

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
    retry_tracking.started(engine, sync_id, attempt, task_id, _now())


def attach_run(engine: Engine, task_id: str, run_id: int) -> None:
    """Link the sync_history run a retry recorded to its attempt (the retry task calls this)."""
    retry_tracking.attach_run(engine, task_id, run_id)


def finished(engine: Engine, task_id: str, error: str | None, run_id: int | None = None) -> None:
    """The attempt ended: resolved when ``error`` is None, else failed (abandoned at the cap)."""
    parsed = parse_task_id(task_id)
    if parsed is None:
        return
    sync_id, attempt = parsed
    retry_tracking.finished(engine, sync_id, attempt, task_id, None if error is None else error[:4000], run_id, _now())


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
