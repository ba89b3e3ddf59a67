"""Sync Monitor's Celery app: ``celery -A dashapp.worker worker`` and ``celery -A dashapp.worker beat``.

Broker: CELERY_BROKER_URL (default REDIS_URL). Tasks:
- ``sync_monitor.demo_sync``: one simulated CRM sync of the embedded demo, written through the
  recorder; Celery beat runs it every DEMO_INTERVAL_SECONDS when a broker is configured;
- ``sync_monitor.retry_sync``: runs the handler registered for (crm_source, sync_type)
  (``dashapp.recording.retry_handlers``; modules named in RETRY_HANDLERS are imported at start) inside
  ``record_sync``, so the retried run is recorded like any other; the failed-operations console
  sends it, and ``dashapp.retries.tracking`` (loaded here) reports each attempt's progress;
- ``sync_monitor.hold``: keeps one worker slot busy for N seconds; operators (and the tests) use it
  to check that monitoring sees active tasks.
"""

from __future__ import annotations

import random
import time
from typing import Any

from celery import Celery

from dashapp.config import load_settings
from dashapp.recording.recorder import default_engine, record_sync
from dashapp.recording.retry_handlers import HANDLERS, handler  # noqa: F401  (``handler`` stays importable here)
from dashapp.retries import tracking as retry_tracking

settings = load_settings()
app = Celery("sync_monitor", broker=settings.celery_broker_url or "memory://")
app.conf.update(
    task_default_queue=settings.celery_queues[0],
    worker_prefetch_multiplier=1,  # the broker's queue length then counts every waiting task
    task_acks_late=True,
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=2,
    broker_transport_options={"socket_timeout": 2, "socket_connect_timeout": 2},
    worker_hijack_root_logger=False,
    timezone="UTC",
    imports=(*(("dashapp.demo.retry_handlers",) if settings.embedded else ()), *settings.retry_handlers),
)
app.conf.beat_schedule = {
    "evaluate-alerts": {"task": "sync_monitor.evaluate_alerts", "schedule": settings.alert_interval_seconds},
}
if settings.celery_broker_url and settings.embedded:
    app.conf.beat_schedule["demo-sync"] = {"task": "sync_monitor.demo_sync", "schedule": settings.demo_interval_seconds}

_rng = random.Random()


@app.task(name="sync_monitor.demo_sync")
def demo_sync() -> int | None:
    """The demo jobs their schedule rows say are due, each simulated and recorded through the
    recorder (the first due one per beat tick, so one slow run never stacks the queue)."""
    from dashapp.demo.embedded import JOBS, due_jobs, mark_started, simulate_run
    from queries._sql import utc_now

    jobs = [job for job in JOBS if job.crm not in settings.demo_stopped_crms] or list(JOBS)  # DEMO_STOPPED_CRMS
    due = due_jobs(default_engine(), utc_now(), jobs)
    if not due:
        return None
    job = due[0]
    mark_started(default_engine(), job, utc_now())
    scale = min(1.0, job.live_minutes * 60 / 3 / job.seconds)
    simulate_run(default_engine(), job, _rng, utc_now, lambda seconds: time.sleep(seconds * scale))
    return None


@app.task(name="sync_monitor.retry_sync", bind=True)
def retry_sync(self, crm_source: str, sync_type: str, payload: dict[str, Any] | None = None,
               operation_id: int | None = None) -> dict[str, Any]:
    """Re-run a sync through its registered handler, recorded through the recorder. Returns the
    new run's id and status; a handler's exception fails the task with its message."""
    function = HANDLERS.get((crm_source, sync_type))
    marker = {"retry_of": operation_id} if operation_id else {"retry": True}
    engine = default_engine()
    with record_sync(crm_source, sync_type, configuration={**(payload or {}), **marker}, db=engine) as run:
        if self.request.id:
            retry_tracking.attach_run(engine, self.request.id, int(run.id or 0))
        if function is None:
            raise LookupError(f"no retry handler registered for {crm_source}/{sync_type}")
        metrics = function(run, payload or {})
        if metrics:
            run.metrics.update(metrics)
    return {"sync_id": int(run.id or 0), "status": "partial" if run.is_partial else "success",
            "error": run.partial_reason}


@app.task(name="sync_monitor.evaluate_alerts")
def evaluate_alerts() -> str:
    """Run the alert rules, update alert state, send due notifications (beat: every
    ALERT_INTERVAL_SECONDS)."""
    from dashapp.alerts import evaluation as alerts

    return alerts.evaluate(default_engine(), settings).summary()


@app.task(name="sync_monitor.hold")
def hold(seconds: float) -> float:
    time.sleep(max(0.0, min(float(seconds), 3600.0)))
    return seconds


celery = app  # ``celery -A dashapp.worker`` finds either name
