"""Issue 24, item 6: retries go to a queue of their own that the worker takes ahead of routine work,
and read "running" while they run; a demo sync holds no worker slot while it "runs". A real worker
(concurrency 2) on a real Redis broker; states read through the app's own queries."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from celery import Celery
from sqlalchemy import select

from dashapp.config import load_settings
from dashapp.retries import claiming as retries
from dashapp.storage import migrate
from dashapp.storage.db import sqlite_engine
from dashapp.storage.sync_tables import metadata, sync_history
from tests.conftest import empty_app_tables
from tests.retries.test_retries import failed_run, operation, settled
from tests.support.celery_worker import celery_worker

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
