"""The image built from the repository's Dockerfile, run the way a warehouse runs it: the web app
against a PostgreSQL database holding the user's tables and runs this test wrote, and the Celery
worker and beat from the same image against Redis."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import redis
from celery import Celery
from sqlalchemy import create_engine, text

from tests.conftest import closed_port
from tests.conftest import test_database as database_of_this_run
from tests.deploy.docker import (
    APP_UID,
    PREFIX,
    ROOT,
    container,
    docker,
    get,
    logs,
    run_once,
    wait_for_http,
)

pytestmark = pytest.mark.container

SECRET = f"container-test-secret-{uuid.uuid4().hex}"


def web_env(url: str, port: int) -> dict[str, str]:
    return {"DATABASE_URL": url, "SECRET_KEY": SECRET, "PORT": str(port), "WEB_CONCURRENCY": "1"}


def test_the_image_serves_the_warehouse_as_a_user_of_its_own(image, warehouse):
    url, expected = warehouse
    port = closed_port()
    base = f"http://127.0.0.1:{port}"
    with container("web", web_env(url, port), options=("--health-interval", "1s")) as web:
        wait_for_http(f"{base}/healthz", web)
        status, kind, body = get(f"{base}/healthz")
        assert (status, json.loads(body)["status"]) == (200, "ok")

        status, kind, body = get(f"{base}/")
        assert status == 200 and kind.startswith("text/html") and "Sync Monitor" in body
        status, kind, body = get(f"{base}/assets/sync-monitor.css")  # the assets are in the image and served
        assert status == 200 and kind.startswith("text/css")
        assert body == (ROOT / "assets" / "sync-monitor.css").read_text()

        status, kind, body = get(f"{base}/api/stats")
        assert status == 200, body
        overview = json.loads(body)["overview"]
        assert {key: overview[key] for key in ("active_syncs", "completed_today", "failed_today", "partial_today",
                                               "success_rate")} == \
            {key: expected[key] for key in ("active_syncs", "completed_today", "failed_today", "partial_today",
                                            "success_rate")}
        assert overview["completed_today"] == 2 and overview["active_syncs"] == 1  # the rows above, by hand

        assert docker("exec", web, "id", "-u").stdout.strip() == str(APP_UID)
        assert _process_uids(web) == {APP_UID}, "gunicorn's master and workers run as the app's user"
        assert _health(web) == "healthy", logs(web)


@pytest.mark.parametrize("written", ["/ingestion/monitoring/", "ingestion/monitoring"])
def test_the_image_under_a_path_is_healthy_and_serves_only_there(image, warehouse, written):
    """URL_PREFIX as a user may write it (with or without its slashes): the HEALTHCHECK asks the
    prefixed /healthz and Docker reads the container healthy; pages and JSON answer under the path
    and nothing outside it."""
    url, expected = warehouse
    port = closed_port()
    base = f"http://127.0.0.1:{port}"
    env = {**web_env(url, port), "URL_PREFIX": written}
    with container("web-prefix", env, options=("--health-interval", "1s")) as web:
        wait_for_http(f"{base}/ingestion/monitoring/healthz", web)
        assert _health(web) == "healthy", logs(web)
        status, kind, body = get(f"{base}/ingestion/monitoring/")
        assert status == 200 and kind.startswith("text/html") and "/ingestion/monitoring/_dash-" in body
        status, _, body = get(f"{base}/ingestion/monitoring/api/stats")
        assert status == 200 and json.loads(body)["overview"]["completed_today"] == expected["completed_today"]
        assert get(f"{base}/healthz")[0] == 404 and get(f"{base}/api/stats")[0] == 404


def _process_uids(container_name: str) -> set[int]:
    """The real and effective uids of every process in the container (from /proc)."""
    script = "for f in /proc/[0-9]*/status; do grep '^Uid:' $f; done"
    lines = docker("exec", container_name, "sh", "-c", script).stdout.splitlines()
    return {int(uid) for line in lines for uid in line.split()[1:3]}


def _health(container_name: str, seconds: float = 30) -> str:
    """Docker's verdict on the image's HEALTHCHECK, once it has one (or what it is after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        state = docker("inspect", "--format", "{{.State.Health.Status}}", container_name).stdout.strip()
        if state != "starting" or time.monotonic() > deadline:
            return state
        time.sleep(0.3)


def test_nothing_secret_or_extra_is_baked_into_the_image(image):
    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    env_names = {item.split("=", 1)[0] for item in config["Env"]}
    assert env_names.isdisjoint({"DATABASE_URL", "MONITOR_DATABASE_URL", "SECRET_KEY", "REDIS_URL",
                                 "CELERY_BROKER_URL", "SMTP_PASSWORD", "ALERT_SMTP_PASSWORD"})
    assert not [item for item in config["Env"] if any(word in item.upper() for word in ("PASSWORD", "SECRET",
                                                                                       "TOKEN"))]
    assert config["User"] == "sync-monitor"
    assert config["Cmd"] == ["gunicorn", "-c", "gunicorn.conf.py", "app:server"]
    assert "healthz" in " ".join(config["Healthcheck"]["Test"])
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    assert "SECRET_KEY=" not in history and "postgresql://" not in history
    listing = docker("run", "--rm", "--network", "none", "--entrypoint", "ls", image, "-A", "/app").stdout.split()
    assert sorted(listing) == ["__pycache__", "app.py", "assets", "dashapp", "data", "gunicorn.conf.py", "queries"]


def test_the_same_image_runs_the_worker_and_migrates(image, warehouse, redis_url):
    url, _ = warehouse
    # the documented deploy step, from the image: the app's own tables
    migrated = run_once("migrate", {"DATABASE_URL": url}, "python", "app.py", "db", "upgrade")
    assert migrated.returncode == 0 and "at revision" in migrated.stdout, migrated.stderr[-2000:]

    queue = f"{PREFIX}queue-{uuid.uuid4().hex[:6]}"
    node = f"{PREFIX}worker-{uuid.uuid4().hex[:6]}"
    env = {"DATABASE_URL": url, "CELERY_BROKER_URL": redis_url, "CELERY_QUEUES": queue}
    command = ("celery", "-A", "dashapp.worker", "worker", "-n", f"{node}@%h", "--concurrency=1", "--loglevel=INFO",
               "--without-gossip", "--without-mingle")
    client = Celery(broker=redis_url)
    try:
        with container("worker", env, *command, options=("--no-healthcheck",)) as worker:
            name = _pinged(client, node, worker)
            assert _process_uids(worker) == {APP_UID}
            client.send_task("sync_monitor.retry_sync", args=("container", "check", {"asked_by": "test"}),
                             queue=queue)
            run = _recorded_run(url, worker)
            assert run["status"] == "failed" and "no retry handler registered for container/check" in run["error"]
            assert run["configuration"] == {"asked_by": "test", "retry": True}
            assert name.startswith(node)
    finally:
        client.close()


def _pinged(client: Celery, node: str, worker: str, seconds: float = 60) -> str:
    """The worker's full node name once it answers Celery's ping."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        replies = client.control.inspect(timeout=1).ping() or {}
        names = [name for name in replies if name.startswith(node + "@")]
        if names:
            return names[0]
    pytest.fail(f"the worker did not answer a ping; its log:\n{logs(worker)}")


def _recorded_run(url: str, worker: str, seconds: float = 60) -> dict:
    """The run the worker's task recorded in the warehouse's sync_history, once it has ended."""
    engine = create_engine(url)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                row = conn.execute(text(
                    "SELECT status, error_message AS error, configuration FROM orchestration.sync_history"
                    " WHERE crm_source = 'container' AND end_time IS NOT NULL")).mappings().first()
            if row:
                return dict(row)
            time.sleep(0.3)
    finally:
        engine.dispose()
    pytest.fail(f"the worker recorded no run; its log:\n{logs(worker)}")


def test_the_same_image_runs_beat(image, warehouse, redis_url):
    """Beat from the image sends the alert evaluation on its schedule (ALERT_INTERVAL_SECONDS)."""
    url, _ = warehouse
    queue = f"{PREFIX}beat-{uuid.uuid4().hex[:6]}"
    env = {"DATABASE_URL": url, "CELERY_BROKER_URL": redis_url, "CELERY_QUEUES": queue,
           "ALERT_INTERVAL_SECONDS": "5"}
    command = ("celery", "-A", "dashapp.worker", "beat", "--loglevel=INFO", "--schedule", "/tmp/celerybeat-schedule")
    broker = redis.Redis.from_url(redis_url)
    with container("beat", env, *command, options=("--no-healthcheck",)) as beat:
        deadline = time.monotonic() + 45
        sent: list[str] = []
        while not sent and time.monotonic() < deadline:
            sent = [json.loads(raw)["headers"]["task"] for raw in broker.lrange(queue, 0, -1)]
            time.sleep(0.3)
        assert sent and set(sent) == {"sync_monitor.evaluate_alerts"}, logs(beat)
    broker.delete(queue)
    broker.close()


def test_a_database_without_the_tables_is_one_line_not_a_stack_trace(image):
    """The image's start-up check, pointed at a database without the user's tables: one line naming
    what is missing, exit status 2 from ``python app.py``; under gunicorn (the default command) the
    master checks before any worker boots and stops with status 3, so the container exits rather
    than booting workers forever."""
    database = f"{PREFIX.replace('-', '_')}empty_{uuid.uuid4().hex[:8]}"
    with database_of_this_run(database, "UTC", lambda engine: None) as url:
        env = {"DATABASE_URL": url, "SECRET_KEY": SECRET, "PORT": str(closed_port())}
        done = run_once("empty", env, "python", "app.py", timeout=90)
        served = run_once("empty-gunicorn", env, timeout=120)
    assert done.returncode == 2, done.stdout[-2000:]
    assert "cannot start" in done.stderr and "sync_history" in done.stderr and "Traceback" not in done.stderr, \
        done.stderr[-3000:]
    assert served.returncode == 3, served.stderr[-2000:]
    assert "cannot start: table orchestration.sync_history" in served.stderr and "Traceback" not in served.stderr \
        and "Booting worker" not in served.stderr, served.stderr[-3000:]
