"""Retries through a real Celery worker (Redis broker) against the test PostgreSQL database: the
worker runs ``sync_monitor.retry_sync`` with the handlers of tests/support/retry_handlers.py and records
the new run through the recorder; the console's state follows it."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select, update

from dashapp.config import load_settings
from dashapp.retries import claiming as retries
from dashapp.storage.app_tables import failed_operations, operation_attempts
from dashapp.storage.db import postgres_engine
from dashapp.storage.sync_tables import sync_history
from queries import failed_operations as queries
from queries.clock import utc_now
from tests.conftest import closed_port, empty_app_tables
from tests.support.celery_worker import celery_worker
from tests.support.rows import Run, insert_runs


@pytest.fixture
def queue() -> str:
    return f"sm_retry_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def settings(pg_engine, postgres_url, redis_url, queue):
    empty_app_tables(pg_engine)
    return load_settings({"DATABASE_URL": postgres_url, "CELERY_BROKER_URL": redis_url, "CELERY_QUEUES": queue,
                          "RETRY_MAX_ATTEMPTS": "2"})


@pytest.fixture
def worker(settings, postgres_url, redis_url, queue):
    with celery_worker(redis_url, queue, DATABASE_URL=postgres_url,
                       RETRY_HANDLERS="tests.support.retry_handlers") as name:
        yield name


def failed_run(engine, configuration: dict, error: str = "HTTPError: 502 Bad Gateway", status: str = "failed") -> int:
    run = Run("retrytest", "contacts", status, timedelta(hours=1), timedelta(minutes=59), processed=10, failed=10,
              error=error, configuration=configuration)
    return int(insert_runs(engine, [run], utc_now())[0].id)


def operation(engine, sync_id: int) -> dict:
    frame = queries.operations(engine, queries.OperationFilter(sync_ids=(sync_id,)), 1)
    return frame.to_dict("records")[0]


def settled(engine, sync_id: int, timeout: float = 30.0) -> dict:
    """The operation once its retry has finished (state neither queued nor running)."""
    deadline = time.monotonic() + timeout
    while True:
        row = operation(engine, sync_id)
        if row["state"] not in ("queued", "running") or time.monotonic() > deadline:
            return row
        time.sleep(0.2)


@pytest.mark.slow
def test_a_retry_runs_and_records_a_successful_run(pg_engine, settings, worker, postgres_url):
    sync_id = failed_run(pg_engine, {"records": 7, "batch_size": 100})
    outcome = retries.retry(pg_engine, settings, [sync_id], "alice")
    assert outcome.queued == [sync_id] and outcome.skipped == {} and outcome.error is None
    assert operation(pg_engine, sync_id)["state"] in ("queued", "running", "resolved")

    row = settled(pg_engine, sync_id)
    assert row["state"] == "resolved" and row["attempts"] == 1 and row["last_error"] is None
    new_run = int(row["resolved_by_run"])
    with pg_engine.connect() as conn:
        recorded = conn.execute(select(sync_history).where(sync_history.c.id == new_run)).mappings().one()
    assert recorded["status"] == "success" and recorded["records_processed"] == 7
    assert recorded["crm_source"] == "retrytest" and recorded["sync_type"] == "contacts"
    assert recorded["configuration"] == {"records": 7, "batch_size": 100, "retry_of": sync_id}
    assert recorded["performance_metrics"]["handler"] == "retry_contacts"

    tries = queries.attempts(pg_engine, sync_id).to_dict("records")
    assert [(t["attempt"], t["state"], t["requested_by"], t["run_id"]) for t in tries] == [
        (1, "resolved", "alice", new_run)]
    # the retry's own run is not an operation of its own, even in "any state"
    listed = queries.operations(pg_engine, queries.OperationFilter(), 100)
    assert list(listed["sync_id"]) == [sync_id]

    # a restart (a new engine, a new process's view) finds the same record
    again = postgres_engine(postgres_url, "orchestration")
    try:
        assert operation(again, sync_id)["state"] == "resolved"
        assert queries.attempts(again, sync_id)["run_id"].tolist() == [new_run]
    finally:
        again.dispose()


@pytest.mark.slow
def test_a_handler_that_fails_again_counts_the_attempt_keeps_the_error_and_the_cap_abandons(
        pg_engine, settings, worker):
    sync_id = failed_run(pg_engine, {"fail": "still broken"}, error="HTTPError: 502 Bad Gateway")
    assert retries.retry(pg_engine, settings, [sync_id], "alice").queued == [sync_id]
    row = settled(pg_engine, sync_id)
    assert row["state"] == "failed" and row["attempts"] == 1
    assert row["last_error"] == "RuntimeError: still broken"
    assert row["error"] == "HTTPError: 502 Bad Gateway"  # the original failure stays as it was

    assert retries.retry(pg_engine, settings, [sync_id], "alice").queued == [sync_id]
    row = settled(pg_engine, sync_id)
    assert row["state"] == "abandoned" and row["attempts"] == 2  # RETRY_MAX_ATTEMPTS=2

    third = retries.retry(pg_engine, settings, [sync_id], "alice")
    assert third.queued == [] and third.skipped == {sync_id: "abandoned after 2 attempts"}
    tries = queries.attempts(pg_engine, sync_id)
    assert tries["state"].tolist() == ["failed", "failed"]
    assert tries["error"].tolist() == ["RuntimeError: still broken"] * 2
    with pg_engine.connect() as conn:  # each attempt recorded its own failed run, linked to it
        statuses = conn.execute(select(sync_history.c.status).where(
            sync_history.c.id.in_([int(i) for i in tries["run_id"]]))).scalars().all()
    assert statuses == ["failed", "failed"]


@pytest.mark.slow
def test_a_partial_retry_is_a_failed_attempt_with_its_reason(pg_engine, settings, worker):
    sync_id = failed_run(pg_engine, {"records": 5, "partial": "2 of 5 records rejected"}, status="partial")
    retries.retry(pg_engine, settings, [sync_id], "alice")
    row = settled(pg_engine, sync_id)
    assert (row["state"], row["attempts"], row["last_error"]) == ("failed", 1, "2 of 5 records rejected")


def test_two_concurrent_retries_of_one_operation_enqueue_once(pg_engine, settings, redis_url, queue):
    sync_id = failed_run(pg_engine, {"records": 3})
    barrier = threading.Barrier(2)
    outcomes: list[retries.RetryResult] = []

    def operator(name: str) -> None:
        barrier.wait()
        outcomes.append(retries.retry(pg_engine, settings, [sync_id], name))

    threads = [threading.Thread(target=operator, args=(n,)) for n in ("alice", "carol")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(len(o.queued) for o in outcomes) == [0, 1]
    assert [o.skipped for o in outcomes if not o.queued] == [{sync_id: "already queued"}]
    assert redis.Redis.from_url(redis_url).llen(f"{queue}_retries") == 1  # one message on the broker
    with pg_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(operation_attempts)).scalar() == 1
    assert operation(pg_engine, sync_id)["attempts"] == 1


def test_a_double_click_on_the_same_selection_queues_nothing_twice(pg_engine, settings, redis_url, queue):
    ids = [failed_run(pg_engine, {"records": 1}) for _ in range(3)]
    first = retries.retry(pg_engine, settings, ids, "alice")
    second = retries.retry(pg_engine, settings, ids + ids, "alice")
    assert sorted(first.queued) == sorted(ids) and second.queued == []
    assert second.requested == 3 and set(second.skipped.values()) == {"already queued"}
    assert redis.Redis.from_url(redis_url).llen(f"{queue}_retries") == 3


def test_a_broker_that_is_down_gives_the_claim_back(pg_engine, postgres_url, queue):
    empty_app_tables(pg_engine)
    settings = load_settings({"DATABASE_URL": postgres_url, "CELERY_BROKER_URL": f"redis://127.0.0.1:{closed_port()}/0",
                              "CELERY_QUEUES": queue})
    sync_id = failed_run(pg_engine, {"records": 1})
    started = time.monotonic()
    outcome = retries.retry(pg_engine, settings, [sync_id], "alice")
    assert time.monotonic() - started < 10
    assert outcome.queued == [] and outcome.error and "broker" in outcome.error
    row = operation(pg_engine, sync_id)
    assert row["state"] == "failed" and row["attempts"] == 0 and row["last_error"].startswith("not queued:")
    assert queries.attempts(pg_engine, sync_id).empty


def test_runs_that_are_not_failed_are_not_operations(pg_engine, settings):
    ok = insert_runs(pg_engine, [Run("retrytest", "contacts", "success", timedelta(hours=1), timedelta(minutes=59))],
                     utc_now())[0]
    outcome = retries.retry(pg_engine, settings, [int(ok.id), 999_999], "alice")
    assert outcome.queued == [] and outcome.skipped == {int(ok.id): "not a failed run", 999_999: "not a failed run"}


def test_an_operation_stuck_in_queued_may_be_retried_after_the_stale_time(pg_engine, settings, redis_url, queue):
    sync_id = failed_run(pg_engine, {"records": 2})
    assert retries.retry(pg_engine, settings, [sync_id], "alice").queued == [sync_id]
    assert retries.retry(pg_engine, settings, [sync_id], "alice").skipped == {sync_id: "already queued"}
    with pg_engine.begin() as conn:  # its message was lost an hour and a half ago
        lost = utc_now().replace(tzinfo=None) - timedelta(minutes=90)
        conn.execute(update(failed_operations).values(updated_at=lost))
    again = retries.retry(pg_engine, settings, [sync_id], "alice")
    assert again.queued == [sync_id]
    assert operation(pg_engine, sync_id)["attempts"] == 2
    assert queries.attempts(pg_engine, sync_id)["task_id"].tolist() == [
        f"sync-monitor-retry-{sync_id}-1", f"sync-monitor-retry-{sync_id}-2"]
    assert redis.Redis.from_url(redis_url).llen(f"{queue}_retries") == 2
