"""System health against real services: Redis, a Celery worker started here, PostgreSQL, and
sockets that refuse or never answer."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery

from dashapp.config import load_settings
from dashapp.health import probes as health_probes
from dashapp.health import snapshot as health
from dashapp.storage.db import postgres_engine
from tests.conftest import closed_port, need
from tests.support.celery_worker import celery_worker

ROOT = Path(__file__).resolve().parents[2]
BOUND = 2.5  # seconds: the health callback's promise (2 s) plus scheduling slack on 2 cores


@pytest.fixture
def queue() -> str:
    return f"sm_test_{uuid.uuid4().hex[:8]}"


def settings_for(redis_url: str | None, queue: str = "celery", **extra: str):
    env = {"HEALTH_CACHE_SECONDS": "0", "CELERY_QUEUES": queue, **extra}
    if redis_url:
        env["REDIS_URL"] = redis_url
    return load_settings(env)


@pytest.fixture
def worker(redis_url, queue):
    """A real Celery worker on its own queue; yields its node name."""
    with celery_worker(redis_url, queue) as name:
        yield name


def send(redis_url: str, queue: str, task: str, *args) -> None:
    Celery(broker=redis_url).send_task(task, args=list(args), queue=queue)


@pytest.mark.slow
def test_a_running_worker_is_seen_with_its_active_task(redis_url, queue, worker, pg_engine):
    settings = settings_for(redis_url, queue)
    send(redis_url, queue, "sync_monitor.hold", 4)
    deadline = time.monotonic() + 10
    while True:
        snapshot = health.probe_all(settings, pg_engine)
        celery = snapshot["celery"]
        if celery.get("active_tasks") == 1 or time.monotonic() > deadline:
            break
    assert celery["status"] == "healthy", celery
    assert celery["active_workers"] == 1
    assert [w["name"] for w in celery["workers"]] == [worker]
    assert celery["workers"][0]["active"] == 1 and celery["workers"][0]["concurrency"] == 2
    assert snapshot["database"]["status"] == "healthy" and snapshot["database"]["connection_count"] >= 1
    assert snapshot["redis"]["status"] == "healthy" and snapshot["redis"]["memory_used_mb"] > 0


def test_tasks_waiting_with_no_worker_are_counted_and_degraded(redis_url, queue, pg_engine):
    for _ in range(3):
        send(redis_url, queue, "sync_monitor.hold", 1)
    started = time.monotonic()
    celery = health.probe_all(settings_for(redis_url, queue), pg_engine)["celery"]
    assert time.monotonic() - started < BOUND
    assert celery["pending_tasks"] == 3 and celery["queues"] == {queue: 3, f"{queue}_retries": 0}
    assert celery["active_workers"] == 0
    assert celery["status"] == "degraded" and "3 tasks wait" in celery["error"]


@pytest.mark.slow
def test_a_queue_that_keeps_growing_is_degraded(redis_url, queue, worker):
    settings = settings_for(redis_url, queue)
    results = []
    for _ in range(4):  # the worker holds two tasks at a time; each round adds three
        for _ in range(3):
            send(redis_url, queue, "sync_monitor.hold", 30)
        time.sleep(0.3)
        results.append(health_probes.celery_probe(settings.celery_broker_url, (queue,), 1.0))
    assert results[-1]["status"] == "degraded" and "keeps growing" in results[-1]["error"]


@pytest.fixture
def black_hole():
    """A socket that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("where", ["closed", "black_hole"])
def test_redis_and_broker_that_do_not_answer_are_unhealthy_within_the_bound(where, black_hole, pg_engine):
    port = closed_port() if where == "closed" else black_hole
    url = f"redis://127.0.0.1:{port}/0"
    started = time.monotonic()
    snapshot = health.system_health(settings_for(url, HEALTH_CACHE_SECONDS="5"), pg_engine)
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, elapsed
    assert snapshot["redis"]["status"] == "unhealthy" and snapshot["redis"]["error"]
    assert snapshot["celery"]["status"] == "unhealthy" and snapshot["celery"]["error"]
    assert snapshot["database"]["status"] == "healthy"  # the rest keeps working


def test_two_calls_inside_the_window_cost_one_inspect_even_across_processes(redis_url, pg_engine):
    settings = settings_for(redis_url, HEALTH_CACHE_SECONDS="30")
    health.clear_cache(settings, pg_engine)
    before = health_probes.RUNS["celery"]
    first = health.services_health(settings, pg_engine)
    with health._local_lock:  # another server process: its own memory is empty
        health._local.update(at=0.0, value=None)
    second = health.services_health(settings, pg_engine)
    assert health_probes.RUNS["celery"] - before == 1
    assert first == second
    health.clear_cache(settings, pg_engine)


@pytest.mark.slow
@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-process"])
def test_an_expired_snapshot_is_served_while_one_refresh_runs_behind_it(redis_url, pg_engine, shared):
    settings = settings_for(redis_url if shared else None, HEALTH_CACHE_SECONDS="0.3")
    health.clear_cache(settings_for(redis_url, HEALTH_CACHE_SECONDS="0.3"), pg_engine)
    first = health.services_health(settings, pg_engine)
    probed_at, before = health._local["at"], health_probes.RUNS["celery"]
    time.sleep(0.4)  # the window has passed
    assert health.services_health(settings, pg_engine) == first  # the last snapshot at once, not a wait
    for _ in range(4):  # more viewers while the refresh runs: no probe round of their own
        health.services_health(settings, pg_engine)
    deadline = time.monotonic() + 10
    while health._local["at"] == probed_at:
        assert time.monotonic() < deadline, "the background refresh never replaced the snapshot"
        time.sleep(0.05)
    if shared:
        assert health_probes.RUNS["celery"] - before == 1  # five requests behind it, one probe round
    health.clear_cache(settings_for(redis_url, HEALTH_CACHE_SECONDS="0.3"), pg_engine)


def test_not_configured_services_say_so(pg_engine):
    snapshot = health.probe_all(settings_for(None), pg_engine)
    assert snapshot["redis"]["status"] == "not_configured"
    assert snapshot["celery"]["status"] == "not_configured"


def test_health_routes(dash_app, use_engine, pg_engine, redis_url):
    use_engine(pg_engine, REDIS_URL=redis_url, HEALTH_CACHE_SECONDS="0")
    client = dash_app.server.test_client()
    body = client.get("/api/system-health").get_json()
    assert set(body["database"]) >= {"status", "connection_count", "response_time_ms"}
    assert set(body["celery"]) >= {"status", "active_workers", "pending_tasks"}
    assert set(body["redis"]) >= {"status", "memory_used_mb", "connected_clients"}
    assert body["database"]["status"] == "healthy" and body["redis"]["status"] == "healthy"
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
    use_engine(postgres_engine("postgresql://postgres@127.0.0.1:1/down", "orchestration"), REDIS_URL=redis_url)
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["error"]
    down = client.get("/api/system-health").get_json()
    assert down["database"]["status"] == "unhealthy" and down["redis"]["status"] == "healthy"


AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def test_rabbitmq_queue_depth_by_passive_declare(queue, pg_engine):
    from kombu import Connection

    try:
        with Connection(AMQP_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001
        need("RabbitMQ", f"{AMQP_URL}: {exc}")
    app = Celery(broker=AMQP_URL)
    for _ in range(4):
        app.send_task("sync_monitor.hold", args=[1], queue=queue)
    settings = load_settings({"CELERY_BROKER_URL": AMQP_URL, "CELERY_QUEUES": f"{queue},never_declared_{queue}",
                              "HEALTH_CACHE_SECONDS": "0"})
    started = time.monotonic()
    celery = health.probe_all(settings, pg_engine)["celery"]
    assert time.monotonic() - started < BOUND
    assert celery["queues"] == {queue: 4, f"never_declared_{queue}": 0, f"{queue}_retries": 0}
    assert celery["pending_tasks"] == 4 and celery["status"] == "degraded"
    with Connection(AMQP_URL) as conn:
        conn.channel().queue_delete(queue)


def test_the_app_and_postgres_figures_with_their_thresholds(dash_app, use_engine, pg_engine):
    """Process and host figures, PostgreSQL's size, connections, cache, longest
    query and lock waits, each with its level; the same in /api/system-health and on /health."""
    from sqlalchemy import text

    from dashapp.health import host_stats

    use_engine(pg_engine, HEALTH_CACHE_SECONDS="0")
    client = dash_app.server.test_client()
    host_stats._recent.clear()  # this test's requests only
    for _ in range(3):
        client.get("/healthz")
    body = client.get("/api/system-health").get_json()
    app = body["app"]
    assert app["uptime_seconds"] >= 0 and app["process_memory_mb"] > 0
    assert 0 < app["host_memory_percent"] <= 100 and 0 < app["disk_percent"] <= 100
    assert app["requests_per_minute"] > 0
    assert [(r["method"], r["path"]) for r in app["slowest_requests"]] == [("GET", "/healthz")] * 3
    assert set(app["levels"]) >= {"process_cpu_percent", "host_memory_percent", "disk_percent"}
    database = body["database"]
    with pg_engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        maximum = conn.execute(text("SELECT current_setting('max_connections')::int")).scalar_one()
    assert database["database_size_mb"] == pytest.approx(size / 1e6, rel=0.05)
    assert database["max_connections"] == maximum and 1 <= database["connections_used"] <= maximum
    assert database["sync_history_size_mb"] is not None and database["lock_waits"] >= 0
    assert set(database["levels"]) == {"connections_percent", "cache_hit_ratio", "longest_query_seconds", "lock_waits"}


def test_database_thresholds_turn_amber_and_red():
    facts = {"connections_used": 85, "max_connections": 100, "cache_hit_ratio": 0.5, "cache_block_reads": 10,
             "longest_query_seconds": 400.0, "lock_waits": 1}
    assert health_probes.database_levels(facts) == {
        "connections_percent": "amber", "cache_hit_ratio": "ok",  # too few reads to judge
        "longest_query_seconds": "red", "lock_waits": "amber"}
    facts.update(cache_block_reads=5_000_000, connections_used=99, lock_waits=0)
    assert health_probes.database_levels(facts) == {
        "connections_percent": "red", "cache_hit_ratio": "red", "longest_query_seconds": "red", "lock_waits": "ok"}
    assert health_probes.database_levels({"connection_count": None}) == {}


def test_a_slow_callback_is_named_by_what_it_draws(dash_app, use_engine, pg_engine):
    """The health page's slowest requests name a Dash callback by its first output, not only
    /_dash-update-component (every callback has that path)."""
    from dashapp.health import host_stats
    from tests.support.callbacks import call

    use_engine(pg_engine)
    client = dash_app.server.test_client()
    client.get("/_dash-dependencies")
    host_stats._recent.clear()
    call(client, dash_app, "duration-chart.figure", {"performance-range": "7d"})
    assert [r[3] for r in host_stats._recent] == ["/_dash-update-component (duration-chart)"]
