"""compose.yaml: valid for docker-compose, nothing secret written in it, and its web, worker, beat
and migrate services run from the image against this machine's PostgreSQL and Redis. No image
registry is reachable here, so its redis and postgres services (public images) are not started:
an override puts the app's services on the host's network instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from celery import Celery

from tests.conftest import closed_port, need
from tests.deploy.docker import IMAGE, PREFIX, ROOT, get, wait_for_http

pytestmark = pytest.mark.container

COMPOSE = ROOT / "compose.yaml"
APP_SERVICES = ("web", "worker", "beat", "migrate")


def compose(*args: str, env: dict[str, str] | None = None, files: tuple[Path, ...] = (COMPOSE,),
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    if shutil.which("docker-compose") is None:
        need("docker-compose", "not on PATH (apt-get install docker-compose)")
    command = ["docker-compose", *(item for path in files for item in ("-f", str(path))), *args]
    clean = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "SECRET_KEY")}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**clean, **(env or {})})


REQUIRED = {"DATABASE_URL": "postgresql://reader@warehouse-db:5432/warehouse", "SECRET_KEY": "from-the-environment"}


def test_the_file_is_valid_and_names_its_services():
    done = compose("config", "--services", env=REQUIRED)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == sorted([*APP_SERVICES, "redis", "postgres", "demo"])
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    profiles = {name: service.get("profiles") for name, service in services.items()}
    assert {name for name, named in profiles.items() if named} == {"postgres", "demo"}  # only with --profile demo
    assert profiles["postgres"] == profiles["demo"] == ["demo"]


def test_the_warehouse_database_and_the_key_come_from_the_environment():
    resolved = yaml.safe_load(compose("config", env=REQUIRED).stdout)["services"]
    for service in APP_SERVICES:
        assert resolved[service]["environment"]["DATABASE_URL"] == REQUIRED["DATABASE_URL"]
        assert resolved[service]["environment"]["SECRET_KEY"] == REQUIRED["SECRET_KEY"]
    missing = compose("config", env={"SECRET_KEY": "x"})
    assert missing.returncode != 0 and "set DATABASE_URL" in missing.stderr


def test_nothing_secret_is_written_in_the_file():
    """Every app setting in compose.yaml is ``${VAR...}`` or passed through from the environment."""
    raw = yaml.safe_load(COMPOSE.read_text())
    environment = raw["x-sync-monitor"]["environment"]
    written = {key: value for key, value in environment.items() if value is not None and not value.startswith("${")}
    assert written == {}
    assert "password" not in COMPOSE.read_text().lower().replace("postgresql://user:password@", "")


def host_network_variant(port: int) -> dict:
    """compose.yaml's app services as written (commands, environment, healthchecks), on the host's
    network from the image the tests built: no published ports (host networking has none), no
    redis to wait for (TEST_REDIS_URL stands in for it), web on ``port``."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    hosted = {}
    for service in APP_SERVICES:
        definition = {key: value for key, value in services[service].items()
                      if key not in ("ports", "depends_on", "build", "restart")}
        hosted[service] = {**definition, "image": IMAGE, "network_mode": "host"}
    hosted["web"]["environment"] = {**hosted["web"]["environment"], "PORT": str(port)}
    for service in ("worker", "beat"):
        hosted[service]["environment"] = {**hosted[service]["environment"], "CELERY_QUEUES": f"{PREFIX}compose"}
    return {"services": hosted}


def test_web_worker_and_beat_run_from_the_compose_file(image, warehouse, redis_url, tmp_path):
    url, expected = warehouse
    port = closed_port()
    hosted = tmp_path / "compose.host-network.yaml"
    hosted.write_text(yaml.safe_dump(host_network_variant(port)))
    project = f"{PREFIX}compose-{uuid.uuid4().hex[:6]}"
    env = {"DATABASE_URL": url, "SECRET_KEY": "compose-test", "REDIS_URL": redis_url, "COMPOSE_PROJECT_NAME": project}
    files = (hosted,)
    client = Celery(broker=redis_url)
    try:
        migrated = compose("run", "--rm", "--no-deps", "migrate", env=env, files=files, timeout=180)
        assert migrated.returncode == 0 and "at revision" in migrated.stdout, migrated.stderr[-2000:]
        up = compose("up", "-d", "--no-deps", "--no-build", "web", "worker", "beat", env=env, files=files, timeout=180)
        assert up.returncode == 0, up.stderr[-2000:]
        web = f"{project}_web_1"
        wait_for_http(f"http://127.0.0.1:{port}/healthz", web)
        status, _, body = get(f"http://127.0.0.1:{port}/api/stats")
        assert status == 200 and json.loads(body)["overview"]["failed_today"] == expected["failed_today"]
        replies = {}
        for _ in range(60):
            replies = client.control.inspect(timeout=1).ping() or {}
            if replies:
                break
        assert len(replies) == 1, compose("logs", "--tail", "40", "worker", env=env, files=files).stdout
        up_now = compose("ps", "--services", "--filter", "status=running", env=env, files=files).stdout.split()
        assert sorted(up_now) == ["beat", "web", "worker"], compose("logs", "--tail", "40", env=env, files=files).stdout
    finally:
        client.close()
        compose("down", "--remove-orphans", "--timeout", "5", env=env, files=files, timeout=180)


def test_the_documented_lines_for_the_warehouse_compose_file_are_valid(tmp_path):
    """The block for the warehouse's compose file (docs/deploy.md), beside stand-ins for its db and
    redis, is valid compose and gives each service its command."""
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    section = deploy.split("\n## Docker and compose\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    document = yaml.safe_load(block)
    document["services"] = {**document["services"], "db": {"image": "postgres:16"}, "redis": {"image": "redis:7"}}
    path = tmp_path / "warehouse-compose.yaml"
    path.write_text(yaml.safe_dump(document))
    env = {"SYNC_MONITOR_DATABASE_URL": "postgresql://reader@db/warehouse", "SYNC_MONITOR_APP_DATABASE_URL": "",
           "SYNC_MONITOR_SECRET_KEY": "from-env"}
    done = compose("config", env=env, files=(path,))
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert services["sync-monitor-worker"]["command"][:4] == ["celery", "-A", "dashapp.worker", "worker"]
    assert services["sync-monitor-beat"]["command"][:4] == ["celery", "-A", "dashapp.worker", "beat"]
    assert services["sync-monitor-migrate"]["command"] == ["python", "app.py", "db", "upgrade"]
    assert services["sync-monitor"]["environment"]["SECRET_KEY"] == "from-env"
    assert "command" not in services["sync-monitor"]  # the image's own: gunicorn
