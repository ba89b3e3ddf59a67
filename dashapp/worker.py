"""Sync Monitor's Celery app: ``celery -A dashapp.worker worker`` and ``celery -A dashapp.worker beat``.

Broker: CELERY_BROKER_URL (default REDIS_URL). The worker consumes two queues, the retries one
(RETRY_QUEUE) ahead of the project's (the first of CELERY_QUEUES): on Redis it always empties the
retries queue first, so a retry an operator asks for never waits behind routine work. Tasks:
- the embedded demo's beat: in Celery beat's own process (``celery -A dashapp.worker beat``, or a
  worker's ``--beat``) when a broker is configured, every DEMO_INTERVAL_SECONDS (at most 5 s) it
  sends ``sync_monitor.demo_run`` for each sync its schedule row says is due, recording the send on
  the row (``last_run``) as beat records its own; so a send never waits for a worker slot, and a
  sync sent that no worker has started reads "queued". ``sync_monitor.demo_sync`` does the same
  once, for whoever sends it;
- ``sync_monitor.demo_run``: one simulated sync starts (its ``running`` row, through the recorder)
  and sends ``sync_monitor.demo_finish`` to end it once its duration has passed: no worker slot
  is held while a demo sync "runs";
- ``sync_monitor.retry_sync``: runs the handler registered for (crm_source, sync_type)
  (``dashapp.recording.retry_handlers``; modules named in RETRY_HANDLERS are imported at start) inside
  ``record_sync``, so the retried run is recorded like any other; the failed-operations console
  sends it, and ``dashapp.retries.tracking`` (loaded here) reports each attempt's progress;
- ``sync_monitor.hold``: keeps one worker slot busy for N seconds; operators (and the tests) use it
  to check that monitoring sees active tasks.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import asdict
from datetime import datetime
from typing import Any

from celery import Celery
from celery.signals import beat_init
from kombu import Queue

from dashapp.config import load_settings
from dashapp.recording.recorder import default_engine, record_sync
from dashapp.recording.retry_handlers import HANDLERS, handler  # noqa: F401  (``handler`` stays importable here)
from dashapp.retries import tracking as retry_tracking

settings = load_settings()
app = Celery("sync_monitor", broker=settings.celery_broker_url or "memory://")
app.conf.update(
    task_default_queue=settings.celery_queues[0],
    # retries first: the worker consumes (and, on Redis, always polls first) the retries queue
    task_queues=tuple(Queue(name) for name in settings.worker_queues),
    task_routes={settings.retry_task: {"queue": settings.retry_queue_name}},
    worker_prefetch_multiplier=1,  # the broker's queue length then counts every waiting task
    task_acks_late=True,
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=2,
    broker_transport_options={"socket_timeout": 2, "socket_connect_timeout": 2,
                              "queue_order_strategy": "priority"},  # Redis: queues in the order given
    worker_hijack_root_logger=False,
    timezone="UTC",
    imports=(*(("dashapp.demo.retry_handlers",) if settings.embedded else ()), *settings.retry_handlers),
)
app.conf.beat_schedule = {
    "evaluate-alerts": {"task": "sync_monitor.evaluate_alerts", "schedule": settings.alert_interval_seconds},
    # the morning digest: each minute, whether DIGEST_AT has passed and today's digest is still to send
    **({"send-digest": {"task": "sync_monitor.send_digest", "schedule": 60.0}} if settings.digest_at else {}),
}
log = logging.getLogger(__name__)


@beat_init.connect
def _start_demo_beat(**_: Any) -> None:
    """The demo's schedule rows are its beat's tables: beat's process sends what they say is due."""
    if settings.celery_broker_url and settings.embedded:
        threading.Thread(target=_demo_beat, name="demo-beat", daemon=True).start()


def _demo_beat() -> None:
    interval = min(settings.demo_interval_seconds, 5.0)
    while True:
        try:
            send_due_demo_runs()
        except Exception:  # noqa: BLE001 - the demo's beat keeps going; the next tick tries again
            log.exception("the demo's schedules could not be read")
        time.sleep(interval)

_rng = random.Random()
_apis: list[Any] = []  # the demo's CRM APIs of this worker process (their breakers), made once


def send_due_demo_runs() -> int:
    """A ``demo_run`` for each demo job its schedule row says is due, the send marked on the row
    first (``last_run``, as beat marks its tasks). Returns how many it sent."""
    from dashapp.demo.embedded import JOBS, due_jobs, mark_started
    from queries.clock import utc_now

    jobs = [job for job in JOBS if job.crm not in settings.demo_stopped_crms] or list(JOBS)  # DEMO_STOPPED_CRMS
    due = due_jobs(default_engine(), utc_now(), jobs)
    for job in due:
        mark_started(default_engine(), job, utc_now())
        demo_run.delay(job.crm, job.sync_type)
    return len(due)


@app.task(name="sync_monitor.demo_sync")
def demo_sync() -> int:
    """``send_due_demo_runs`` once (the demo's beat runs it in beat's process on its own)."""
    return send_due_demo_runs()


@app.task(name="sync_monitor.demo_run")
def demo_run(crm: str, sync_type: str) -> int | None:
    """Start one demo sync (its running row) and send its finish for when its duration has passed."""
    from dashapp.demo.embedded import job_named, start_live_run

    job = job_named(crm, sync_type)
    if job is None:
        return None
    run_id, started_at, plan = start_live_run(default_engine(), job, _rng)
    demo_finish.apply_async((run_id, started_at.isoformat(), crm, sync_type, asdict(plan)), countdown=plan.duration)
    return run_id


@app.task(name="sync_monitor.demo_finish")
def demo_finish(run_id: int, started_at: str, crm: str, sync_type: str, plan: dict[str, Any]) -> int:
    """End a demo sync ``demo_run`` started: its pages, counts and outcome, recorded now."""
    from dashapp.demo.embedded import DemoApi, RunPlan, finish_live_run, job_named

    job = job_named(crm, sync_type)
    if job is not None:
        _apis[:] = _apis or [DemoApi()]
        finish_live_run(default_engine(), job, run_id, datetime.fromisoformat(started_at), RunPlan(**plan), _rng,
                        _apis[0])
    return run_id


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
    ALERT_INTERVAL_SECONDS); skipped when another beat's message ran this interval already."""
    from dashapp.alerts import evaluation as alerts

    return alerts.on_schedule(default_engine(), settings).summary()


@app.task(name="sync_monitor.send_digest")
def send_digest() -> str:
    """The morning digest, when due and not sent by another process (``dashapp.alerts.digest``)."""
    from dashapp.alerts import digest
    from dashapp.payloads.digest import digest as summarize

    return digest.send_digest(default_engine(), settings, summarize=summarize)


@app.task(name="sync_monitor.hold")
def hold(seconds: float) -> float:
    time.sleep(max(0.0, min(float(seconds), 3600.0)))
    return seconds


celery = app  # ``celery -A dashapp.worker`` finds either name
