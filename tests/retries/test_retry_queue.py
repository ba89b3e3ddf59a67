"""Retries go to a queue of their own that the worker takes ahead of routine work,
and read "running" while they run; a demo sync holds no worker slot while it "runs". A real worker
(concurrency 2) on a real Redis broker; states read through the app's own queries."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
import redis
from celery import Celery
from sqlalchemy import select

from dashapp.config import load_settings
from dashapp.demo import embedded as demo
from dashapp.recording import crm_calls as api_calls
from dashapp.retries import claiming as retries
from dashapp.storage import migrate
from dashapp.storage.db import sqlite_engine
from dashapp.storage.sync_tables import metadata, sync_history
from queries import demo_data
from queries._sql import bind_time
from queries.clock import utc_now
from queries.crm_status import crm_status
from tests.conftest import empty_app_tables
from tests.retries.test_retries import failed_run, operation, settled
from tests.support.celery_worker import ROOT, celery_worker

M = timedelta(minutes=1)
ROUTINE = 6  # hold tasks sent before the retry: two run, four wait


def wait_for(condition, timeout: float = 30.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def queue() -> str:
    return f"sm_rq_{uuid.uuid4().hex[:8]}"


@pytest.mark.slow
def test_a_retry_sent_after_routine_work_runs_before_it_and_reads_running(pg_engine, postgres_url, redis_url,
                                                                          queue, tmp_path):
    empty_app_tables(pg_engine)
    settings = load_settings({"DATABASE_URL": postgres_url, "CELERY_BROKER_URL": redis_url, "CELERY_QUEUES": queue})
    assert settings.retry_queue_name == f"{queue}_retries" and settings.worker_queues == (f"{queue}_retries", queue)
    broker = redis.Redis.from_url(redis_url)
    gate = tmp_path / "open"
    sync_id = failed_run(pg_engine, {"records": 3, "gate": str(gate)})
    with celery_worker(redis_url, queue, concurrency=2, DATABASE_URL=postgres_url,
                       RETRY_HANDLERS="tests.support.retry_handlers"):
        sender = Celery(broker=redis_url)
        for _ in range(ROUTINE):
            sender.send_task("sync_monitor.hold", args=[1.5], queue=queue)
        wait_for(lambda: broker.llen(queue) == ROUTINE - 2, what="both slots busy on routine work")
        assert retries.retry(pg_engine, settings, [sync_id], "alice").queued == [sync_id]
        assert operation(pg_engine, sync_id)["state"] == "queued"
        # the first slot to free takes the retry, while routine tasks sent before it still wait
        row = wait_for(lambda: (r := operation(pg_engine, sync_id))["state"] == "running" and r, what="running")
        waiting = broker.llen(queue)
        assert waiting >= ROUTINE - 3, f"only {waiting} routine tasks still wait: the retry did not go first"
        assert row["started_at"] is not None and row["attempts"] == 1
        gate.touch()
        done = settled(pg_engine, sync_id)
        assert done["state"] == "resolved", done
        sender.close()


@pytest.mark.slow
def test_a_demo_sync_holds_no_worker_slot_while_it_runs(redis_url, queue, tmp_path):
    database = tmp_path / "demo.sqlite3"
    engine = sqlite_engine(database, "orchestration")
    with engine.begin() as conn:
        metadata.create_all(conn)
    migrate.upgrade(engine)
    with celery_worker(redis_url, queue, concurrency=2, DATABASE_URL="", SQLITE_PATH=str(database)) as name:
        app = Celery(broker=redis_url)
        app.send_task("sync_monitor.demo_run", args=["gsheet", "budget_sheet"], queue=queue)

        def runs():
            with engine.connect() as conn:
                return conn.execute(select(sync_history.c.id, sync_history.c.status, sync_history.c.end_time)
                                    .where(sync_history.c.crm_source == "gsheet")).all()

        started = wait_for(lambda: [r for r in runs() if r.status == "running"], what="the demo run's running row")
        assert len(started) == 1 and started[0].end_time is None
        # the run is open, and yet no task is active: its finish waits as a scheduled task
        inspector = app.control.inspect(timeout=1, destination=[name])

        def idle_while_open():
            idle = (inspector.active() or {}).get(name) == []
            return idle and [r for r in runs() if r.status == "running"]

        assert wait_for(idle_while_open, what="no active task while the demo run is open")
        ended = wait_for(lambda: [r for r in runs() if r.status != "running"], timeout=60, what="the run's end")
        assert ended[0].id == started[0].id and ended[0].end_time is not None
        assert ended[0].status in ("success", "failed", "partial")
        app.close()
    engine.dispose()


def test_the_demo_beat_sends_due_syncs_from_beat_itself_and_they_read_queued(redis_url, queue, tmp_path):
    """No worker at all: beat's process still sends the due demo sync and marks its schedule row,
    so the overview reads it Queued (waiting for a worker), not late."""
    database = tmp_path / "demo.sqlite3"
    engine = sqlite_engine(database, "orchestration")
    with engine.begin() as conn:
        metadata.create_all(conn)
    migrate.upgrade(engine)
    job = next(j for j in demo.JOBS if j.crm == "hubspot" and j.sync_type == "contacts")
    before = utc_now() - 10 * M
    writer = api_calls.Writer(engine, flush_seconds=0.05)
    api_calls.use_writer(writer)
    try:
        demo.simulate_run(engine, job, random.Random(1), lambda: before, lambda seconds: None)
    finally:
        writer.close()
        api_calls.use_writer(None)
    with engine.begin() as conn:
        demo_data.add_schedule(conn, {
            "name": "hubspot-contacts", "crm_source": "hubspot", "model_name": "contacts", "mode": "delta",
            "enabled": True, "last_run": bind_time(conn, before), "recurrence_type": "interval",
            "every": job.live_minutes, "period": "minutes"})
    environment = {**os.environ, "CELERY_BROKER_URL": redis_url, "CELERY_QUEUES": queue, "REDIS_URL": "",
                   "DATABASE_URL": "", "SQLITE_PATH": str(database), "DEMO_INTERVAL_SECONDS": "1"}
    beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "dashapp.worker", "beat", "--loglevel=WARNING",
                             "-s", str(tmp_path / "beat-schedule")], cwd=ROOT, env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        broker = redis.Redis.from_url(redis_url)
        wait_for(lambda: broker.llen(queue) >= 1, what="beat's process to send the due demo sync")
        message = json.loads(broker.lindex(queue, 0))
        assert message["headers"]["task"] == "sync_monitor.demo_run"
        row = next(r for r in crm_status(engine, utc_now()).to_dict("records") if r["crm_source"] == "hubspot")
        assert row["state"] == "queued" and "waiting for a worker" in row["state_reason"], row["state_reason"]
    finally:
        beat.terminate()
        beat.wait(timeout=15)
        engine.dispose()
