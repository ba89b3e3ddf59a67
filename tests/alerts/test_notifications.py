"""Alert notifications received by a local HTTP server (generic webhook and Slack format) and a
local SMTP server started by the test; a failed send retried with back-off; and the rules that
read the health probes (a Redis that is down, tasks waiting with no worker)."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from celery import Celery
from sqlalchemy import select

from dashapp.alerts import evaluation as alerts
from dashapp.alerts import notify as alert_notify
from dashapp.config import load_settings
from dashapp.storage.app_tables import alert_notifications
from queries.clock import utc_now
from tests.conftest import closed_port, empty_app_tables
from tests.support.rows import Run, insert_runs

M = timedelta(minutes=1)


class Hooks:
    """A local HTTP server that keeps every POST body; ``failing`` paths answer 500."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []
        self.failing: set[str] = set()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path in hooks.failing:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"down for maintenance")
                    return
                hooks.received.append((self.path, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, _server, _session, envelope):  # noqa: N802 - aiosmtpd's API
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def hooks():
    server = Hooks()
    yield server
    server.server.shutdown()


@pytest.fixture
def mailbox():
    box = Mailbox()
    box.port = closed_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def failing_runs(now):
    return [Run("hookcrm", "contacts", "failed", (i + 1) * 5 * M, (i + 1) * 5 * M - M, error="HTTPError: 502")
            for i in range(10)]


def test_firing_and_resolving_reach_the_webhook_slack_and_email(pg_engine, hooks, mailbox, tmp_path):
    empty_app_tables(pg_engine)
    settings = load_settings({
        "ALERT_WEBHOOK_URLS": f"{hooks.url}/generic", "ALERT_SLACK_WEBHOOK_URLS": f"{hooks.url}/slack",
        "ALERT_SMTP_HOST": "127.0.0.1", "ALERT_SMTP_PORT": str(mailbox.port), "ALERT_EMAIL_TO": "ops@example.com",
        "ALERT_EMAIL_FROM": "monitor@example.com", "PUBLIC_URL": "https://monitor.example.com/",
        "SQLITE_PATH": str(tmp_path / "x.sqlite3")})
    now = utc_now()
    insert_runs(pg_engine, failing_runs(now), now)
    first = alerts.evaluate(pg_engine, settings, now)
    assert sorted(first.fired) == ["error_rate:hookcrm", "success_rate:hookcrm"]
    assert first.notifications.sent == 6 and first.notifications.failed == 0

    generic = [b for path, b in hooks.received if path == "/generic"]
    assert sorted(b["alert"]["rule"] for b in generic) == ["error_rate", "success_rate"]
    error = next(b for b in generic if b["alert"]["rule"] == "error_rate")
    assert error["event"] == "firing" and error["alert"]["subject"] == "hookcrm"
    assert error["alert"]["severity"] == "critical" and error["alert"]["value"] == 100.0
    assert error["link"] == "https://monitor.example.com/alerts"
    slack = [b for path, b in hooks.received if path == "/slack"]
    assert any(b["text"].startswith(":red_circle: *Sync Monitor* FIRING critical error_rate hookcrm") for b in slack)
    assert len(mailbox.messages) == 2 and mailbox.messages[0].rcpt_tos == ["ops@example.com"]
    mail = mailbox.messages[0].content.decode()
    assert "Subject: [Sync Monitor] FIRING" in mail and "https://monitor.example.com/alerts" in mail

    alerts.evaluate(pg_engine, settings, now + M)  # still firing: nothing new is sent
    assert len(hooks.received) == 4 and len(mailbox.messages) == 2

    resolved = alerts.evaluate(pg_engine, settings, now + 2 * 60 * M)
    assert sorted(resolved.resolved) == ["error_rate:hookcrm", "success_rate:hookcrm"]
    assert resolved.fired == ["late:hookcrm"]  # two hours without the runs that came every few minutes
    events = [b["event"] for path, b in hooks.received if path == "/generic"]
    assert events.count("resolved") == 2 and len(mailbox.messages) == 5
    assert any(":large_green_circle:" in b["text"] for path, b in hooks.received if path == "/slack")


def test_a_failed_send_is_retried_later_and_shown(pg_engine, hooks, tmp_path):
    empty_app_tables(pg_engine)
    settings = load_settings({"ALERT_WEBHOOK_URLS": f"{hooks.url}/generic", "SQLITE_PATH": str(tmp_path / "x.db"),
                              "ALERT_RULES_FILE": ""})
    hooks.failing.add("/generic")
    now = utc_now()
    insert_runs(pg_engine, failing_runs(now), now)
    first = alerts.evaluate(pg_engine, settings, now)
    assert first.notifications.failed == 2 and hooks.received == []
    with pg_engine.connect() as conn:
        rows = conn.execute(select(alert_notifications)).mappings().all()
    assert {(r["status"], r["attempts"]) for r in rows} == {("pending", 1)}
    assert rows[0]["last_error"].startswith("OSError: HTTP 500 from")
    assert "down for maintenance" in rows[0]["last_error"]
    assert rows[0]["next_try_at"] == now.replace(tzinfo=None) + timedelta(seconds=30)

    assert alert_notify.deliver_due(pg_engine, settings, now + timedelta(seconds=10)).sent == 0  # not due yet
    hooks.failing.clear()
    later = alert_notify.deliver_due(pg_engine, settings, now + timedelta(seconds=31))
    assert later.sent == 2 and len(hooks.received) == 2
    with pg_engine.connect() as conn:
        assert {(r["status"], r["attempts"]) for r in conn.execute(select(alert_notifications)).mappings()} == {
            ("sent", 2)}


def test_a_send_that_keeps_failing_is_given_up_after_five_attempts(pg_engine, tmp_path):
    empty_app_tables(pg_engine)
    settings = load_settings({"ALERT_WEBHOOK_URLS": f"http://127.0.0.1:{closed_port()}/hook",
                              "SQLITE_PATH": str(tmp_path / "x.db")})
    now = utc_now()
    insert_runs(pg_engine, failing_runs(now), now)
    alerts.evaluate(pg_engine, settings, now)
    moment = now
    for _ in range(4):
        moment += timedelta(minutes=10)
        alert_notify.deliver_due(pg_engine, settings, moment)
    with pg_engine.connect() as conn:
        rows = conn.execute(select(alert_notifications)).mappings().all()
    assert {(r["status"], r["attempts"]) for r in rows} == {("failed", 5)}
    assert "ConnectionError" in rows[0]["last_error"]


def test_redis_down_and_tasks_waiting_without_a_worker(pg_engine, redis_url, tmp_path):
    empty_app_tables(pg_engine)
    queue = f"sm_alerts_{uuid.uuid4().hex[:8]}"
    Celery(broker=redis_url).send_task("sync_monitor.hold", args=[1], queue=queue)
    settings = load_settings({"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0", "CELERY_BROKER_URL": redis_url,
                              "CELERY_QUEUES": queue, "HEALTH_CACHE_SECONDS": "0",
                              "SQLITE_PATH": str(tmp_path / "x.db")})
    outcome = alerts.evaluate(pg_engine, settings)
    assert sorted(outcome.fired) == ["no_worker:celery", "service_down:redis"]
    healthy = load_settings({"REDIS_URL": redis_url, "CELERY_QUEUES": f"{queue}_empty", "HEALTH_CACHE_SECONDS": "0",
                             "SQLITE_PATH": str(tmp_path / "x.db")})
    assert sorted(alerts.evaluate(pg_engine, healthy).resolved) == ["no_worker:celery", "service_down:redis"]


@pytest.mark.slow
def test_the_beat_task_and_the_cron_command_evaluate(pg_engine, postgres_url, redis_url, tmp_path):
    """sync_monitor.evaluate_alerts in a real worker, and `python app.py alerts check`."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from dashapp.storage.app_tables import alerts as alert_table
    from tests.support.celery_worker import celery_worker

    empty_app_tables(pg_engine)
    now = utc_now()
    insert_runs(pg_engine, failing_runs(now), now)
    queue = f"sm_beat_{uuid.uuid4().hex[:8]}"
    with celery_worker(redis_url, queue, DATABASE_URL=postgres_url):
        result = Celery(broker=redis_url).send_task("sync_monitor.evaluate_alerts", queue=queue)
        assert result.id
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with pg_engine.connect() as conn:
                found = sorted(r.rule for r in conn.execute(select(alert_table.c.rule)))
            if found:
                break
            time.sleep(0.3)
    assert found == ["error_rate", "success_rate"]

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_URL": postgres_url, "SQLITE_PATH": str(tmp_path / "x.db")}
    checked = subprocess.run([sys.executable, "app.py", "alerts", "check"], cwd=root, env=env, capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().startswith("2 firing; 0 fired; 0 escalated; 0 resolved")
    bad = subprocess.run([sys.executable, "app.py", "alerts", "check"], cwd=root, capture_output=True, text=True,
                         env={**env, "ALERT_RULES_FILE": str(tmp_path / "missing.yaml")}, timeout=60)
    assert bad.returncode == 2 and "missing.yaml" in bad.stderr and "Traceback" not in bad.stderr
