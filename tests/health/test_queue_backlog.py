"""The Celery card turns amber, saying why, when waiting tasks pile up (more than
CELERY_QUEUE_WARN), and red above CELERY_QUEUE_CRITICAL. A real Redis broker, no worker consuming."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery

from dashapp.config import load_settings
from dashapp.health import snapshot as health
from dashapp.web.components import health_strip


def _send(redis_url: str, queue: str, count: int) -> None:
    app = Celery(broker=redis_url)
    for _ in range(count):
        app.send_task("sync_monitor.hold", args=[1], queue=queue)
    app.close()


def _settings(redis_url: str, queue: str, **extra: str):
    return load_settings({"CELERY_BROKER_URL": redis_url, "CELERY_QUEUES": queue, "HEALTH_CACHE_SECONDS": "0",
                          **extra})


@pytest.mark.slow
def test_waiting_tasks_above_the_threshold_turn_the_card_amber_then_red(redis_url, pg_engine):
    queue = f"sm_backlog_{uuid.uuid4().hex[:8]}"
    _send(redis_url, queue, 12)
    amber = health.probe_all(_settings(redis_url, queue, CELERY_QUEUE_WARN="10"), pg_engine)["celery"]
    assert amber["pending_tasks"] == 12 and amber["status"] == "degraded"
    assert amber["error"].startswith(f"12 tasks waiting for a worker, over 10 (CELERY_QUEUE_WARN): 12 in {queue}")
    pill = health_strip.strip({"celery": amber})[2].children
    assert pill.color == "warning" and pill.title == amber["error"]

    red = health.probe_all(_settings(redis_url, queue, CELERY_QUEUE_WARN="5", CELERY_QUEUE_CRITICAL="11"),
                           pg_engine)["celery"]
    assert red["status"] == "unhealthy"
    assert red["error"].startswith("12 tasks waiting for a worker, over 11 (CELERY_QUEUE_CRITICAL)")

    calm = health.probe_all(_settings(redis_url, queue, CELERY_QUEUE_WARN="12"), pg_engine)["celery"]
    assert "waiting for a worker" not in (calm.get("error") or "")  # 12 is not above 12


def test_retries_waiting_are_counted_in_their_own_queue(redis_url, pg_engine):
    queue = f"sm_backlog_{uuid.uuid4().hex[:8]}"
    settings = _settings(redis_url, queue, CELERY_QUEUE_WARN="2")
    _send(redis_url, settings.retry_queue_name, 3)
    celery = health.probe_all(settings, pg_engine)["celery"]
    assert celery["queues"] == {queue: 0, f"{queue}_retries": 3}
    assert f"3 in {queue}_retries" in celery["error"] and celery["status"] == "degraded"
