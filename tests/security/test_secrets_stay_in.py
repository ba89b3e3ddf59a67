"""Secrets and infrastructure stay on the server.

- A webhook's URL is its credential: a send that fails (the webhook answers 500, or nothing listens
  on its port) stores and logs its error with the URL cut to scheme and host, and shows it so to an
  operator; anonymous users and viewers read its class ("the webhook answered 500") in /api/alerts
  and on the alerts page. A row stored before the cut existed is cut when shown.
- A retry a broker refused (a closed port): anonymous users and viewers read "not queued: the
  broker could not be reached" on /api/failed-operations[/<id>], /api/runs/<id>[/error] and the
  failed page; an operator reads the broker's own words.
- /metrics of an app whose database stops answering, under gunicorn: ``sync_monitor_up 0``, no host,
  port or role.
- /api/system-health and /health: no version (PostgreSQL's, Redis's, the OS's) for anyone but an
  operator, who sees them as before.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, insert, select, text

from dashapp.alerts import evaluation as alerts
from dashapp.config import load_settings
from dashapp.storage.app_tables import alert_notifications
from dashapp.storage.app_tables import alerts as alerts_table
from queries.clock import utc_now
from tests.conftest import closed_port, empty_app_tables
from tests.security.conftest import sign_in
from tests.support.callbacks import call, callback_body
from tests.support.rows import Run, insert_runs

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
TOKEN = "T0SECRET/B0SECRET/xoxSecretPathToken"
QUERY = "sig=QuerySecret42"
M = timedelta(minutes=1)


class FailingHook:
    """A real HTTP server that answers every POST with 500, echoing the path it was called on and
    its last segment (as some servers do): the secret comes back in the answer's body."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(500)
                self.end_headers()
                segment = self.path.split("?")[0].rsplit("/", 1)[-1]
                self.wfile.write(f"internal trouble for {self.path} (unknown token {segment})".encode())

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]


class Mailbox:  # accepts mail, offers no AUTH: a login is refused
    async def handle_DATA(self, _server, _session, _envelope):  # noqa: N802 - aiosmtpd's API
        return "250 OK"


@pytest.fixture
def failing_hook():
    hook = FailingHook()
    yield hook
    hook.server.shutdown()


@pytest.fixture
def mailbox_port():
    port = closed_port()
    controller = Controller(Mailbox(), hostname=HOST, port=port)
    controller.start()
    yield port
    controller.stop()


def _anyone(dash_app, who: str):
    client = dash_app.server.test_client()
    if who != "anonymous":
        assert sign_in(client, {"viewer": "bob", "operator": "alice"}[who]).status_code in (302, 303)
    return client


def _alerts_page(client, dash_app) -> str:
    """What the alerts page's refresh sends the browser (the firing list and the history rows)."""
    return json.dumps(call(client, dash_app, "alerts-active.children"))


def _fire(pg_engine, destinations: dict[str, str], tmp_path) -> None:
    settings = load_settings({**destinations, "SQLITE_PATH": str(tmp_path / "x.db"), "ALERT_RULES_FILE": ""})
    now = utc_now()
    insert_runs(pg_engine, [Run("hookcrm", "contacts", "failed", (i + 1) * 5 * M, (i + 1) * 5 * M - M,
                                error="HTTPError: 502") for i in range(10)], now)
    assert alerts.evaluate(pg_engine, settings, now).notifications.failed >= 1


def _stored_errors(pg_engine) -> list[str]:
    with pg_engine.connect() as conn:
        return [r.last_error for r in conn.execute(select(alert_notifications)) if r.last_error]


CASES = {
    "webhook answers 500": ("ALERT_WEBHOOK_URLS", "hook", "the webhook answered 500", "HTTP 500"),
    "slack cannot be reached": ("ALERT_SLACK_WEBHOOK_URLS", "closed", "the Slack webhook could not be reached",
                                "ConnectionError"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_webhook_keeps_its_url_on_the_server(case, dash_app, app_env, pg_engine, failing_hook, tmp_path,
                                                      caplog):
    variable, where, public, operator_words = CASES[case]
    port = failing_hook.port if where == "hook" else closed_port()
    url = f"http://{HOST}:{port}/services/{TOKEN}?{QUERY}"
    with caplog.at_level(logging.WARNING, logger="dashapp.alerts.notify"):
        _fire(pg_engine, {variable: url}, tmp_path)
    secrets = ("SecretPathToken", "B0SECRET", "/services", QUERY, "QuerySecret42")
    stored = _stored_errors(pg_engine)
    assert stored and all(not [s for s in secrets if s in error] for error in stored)
    assert all(f"http://{HOST}/…" in error or "url: /…" in error for error in stored)
    assert "alert notification" in caplog.text and [s for s in secrets if s in caplog.text] == []  # the log too

    for who in ("anonymous", "viewer"):
        client = _anyone(dash_app, who)
        listed = client.get("/api/alerts")
        body = listed.get_data(as_text=True)
        errors = {a["notifications"]["error"] for a in listed.json["alerts"]}
        assert errors == {public}, who
        page = _alerts_page(client, dash_app)
        assert public in page
        for shown in (body, page):
            assert [s for s in (*secrets, HOST, str(port), operator_words) if s in shown] == [], who

    operator = _anyone(dash_app, "operator")
    errors = [a["notifications"]["error"] for a in operator.get("/api/alerts").json["alerts"]]
    assert errors and all(operator_words in e and f"{HOST}" in e for e in errors)
    if where == "hook":  # the server's own words stay, its echo of the path does not
        assert all("internal trouble for /…" in e and "(unknown token …)" in e for e in errors)
    assert all(f"http://{HOST}/…" in e or "url: /…" in e for e in errors)
    shown = json.dumps(errors) + _alerts_page(operator, dash_app)
    assert [s for s in secrets if s in shown] == []


def test_the_mail_server_refusing_or_missing_is_a_class(dash_app, app_env, pg_engine, mailbox_port, tmp_path):
    mail = {"ALERT_SMTP_HOST": HOST, "ALERT_EMAIL_TO": "ops@example.com", "ALERT_EMAIL_FROM": "m@example.com"}
    _fire(pg_engine, {**mail, "ALERT_SMTP_PORT": str(mailbox_port), "ALERT_SMTP_USER": "mailer-user",
                      "ALERT_SMTP_PASSWORD": "mail-pass"}, tmp_path)
    assert all("SMTPNotSupportedError" in e for e in _stored_errors(pg_engine))  # no AUTH offered: refused
    anonymous = _anyone(dash_app, "anonymous").get("/api/alerts")
    assert {a["notifications"]["error"] for a in anonymous.json["alerts"]} == {"the mail server refused"}

    empty_app_tables(pg_engine)
    closed = closed_port()
    _fire(pg_engine, {**mail, "ALERT_SMTP_PORT": str(closed)}, tmp_path)
    anonymous = _anyone(dash_app, "anonymous").get("/api/alerts")
    assert {a["notifications"]["error"] for a in anonymous.json["alerts"]} == {"the mail server could not be reached"}
    assert str(closed) not in anonymous.get_data(as_text=True)
    errors = {a["notifications"]["error"] for a in _anyone(dash_app, "operator").get("/api/alerts").json["alerts"]}
    assert all("Connection refused" in e or "Errno" in e for e in errors)


def test_an_error_stored_before_the_cut_is_cut_when_shown(dash_app, app_env, pg_engine):
    """Rows written by an earlier version hold the whole URL: cut for the operator, a class for anyone."""
    now = utc_now().replace(tzinfo=None)
    url = f"https://hooks.slack.com/services/{TOKEN}?{QUERY}"
    old = f"OSError: HTTP 404 from {url}: no_service"
    with pg_engine.begin() as conn:
        alert_id = conn.execute(insert(alerts_table).values(
            rule="late", subject="hookcrm", severity="critical", summary="late", state="firing", fired_at=now,
            last_seen_at=now).returning(alerts_table.c.id)).scalar_one()
        conn.execute(insert(alert_notifications).values(
            alert_id=alert_id, event="firing", channel="slack", target=url, status="failed", attempts=5,
            created_at=now, last_error=old))
    anonymous = _anyone(dash_app, "anonymous").get("/api/alerts")
    assert anonymous.json["alerts"][0]["notifications"]["error"] == "the Slack webhook answered 404"
    assert "hooks.slack.com" not in anonymous.get_data(as_text=True)
    operator = _anyone(dash_app, "operator").get("/api/alerts").json["alerts"][0]["notifications"]["error"]
    assert operator == "OSError: HTTP 404 from https://hooks.slack.com/…: no_service"


def test_every_form_of_a_url_in_requests_errors_is_cut():
    """The texts requests itself raises for a webhook it cannot use: a closed port (urllib3's
    "url: /path"), no scheme, a user and password in the URL; each keeps at most scheme and host."""
    import requests

    from dashapp.auth.redact import redact_urls

    port = closed_port()
    attempts = [f"http://{HOST}:{port}/services/{TOKEN}?{QUERY}", f"hooks.slack.com/services/{TOKEN}?{QUERY}",
                f"http://user:PassWord9@{HOST}:{port}/services/{TOKEN}?{QUERY}"]
    for url in attempts:
        with pytest.raises(requests.RequestException) as raised:
            requests.post(url, json={}, timeout=2)
        error = f"{type(raised.value).__name__}: {raised.value}"
        assert "SecretPathToken" in error or "PassWord9" in error  # requests names them ...
        cut = redact_urls(error)
        assert [s for s in ("SecretPathToken", "B0SECRET", QUERY, "PassWord9", "user:") if s in cut] == [], cut
        assert "…" in cut


# --- a broker's refusal ------------------------------------------------------------------------

BROKER_WORDS = ("Error 111", "Connection refused", "connecting to", HOST)


@pytest.fixture
def refused_retry(dash_app, use_engine, pg_engine, users_file) -> tuple[int, int]:
    """(run id, broker port): a failed run an operator tried to retry through a broker on a closed port."""
    empty_app_tables(pg_engine)
    port = closed_port()
    use_engine(pg_engine, AUTH_USERS_FILE=str(users_file), CELERY_BROKER_URL=f"redis://{HOST}:{port}/0")
    (run,) = insert_runs(pg_engine, [Run("hubspot", "contacts", "failed", 5 * M, 4 * M,
                                         error="HTTPError: 503 Service Unavailable")], utc_now())
    answer = _anyone(dash_app, "operator").post(f"/api/failed-operations/{run.id}/retry")
    assert answer.status_code == 503 and str(port) in answer.json["error"]  # the operator who asked is told
    return run.id, port


def _details(client, dash_app, run_id: int) -> str:
    """The failed page's details panel for the operation, as a click on its row asks for it."""
    _, (body,) = callback_body(dash_app, "failed-details-body.children",
                               [{"id": "failed-operations-grid", "property": "cellClicked",
                                 "value": {"colId": "state", "rowId": str(run_id)}}],
                               [{"id": "failed-operations-grid", "property": "rowData", "value": [{"id": run_id}]},
                                {"id": "viewer-timezone", "property": "data", "value": "UTC"},
                                {"id": "_pages_location", "property": "search", "value": ""}])  # live: no at
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    shown = answer.get_data(as_text=True)
    assert "failed-details-last-error" in shown
    return shown


def _broker_views(client, dash_app, run_id: int) -> dict[str, str]:
    return {
        "list": client.get("/api/failed-operations?range=all").get_data(as_text=True),
        "one": client.get(f"/api/failed-operations/{run_id}").get_data(as_text=True),
        "run": client.get(f"/api/runs/{run_id}").get_data(as_text=True),
        "error": client.get(f"/api/runs/{run_id}/error?source=last_error").get_data(as_text=True),
        "error_offset": client.get(f"/api/runs/{run_id}/error?source=last_error&offset=20").get_data(as_text=True),
        "grid": json.dumps(call(client, dash_app, "failed-operations-grid.rowData", {"failed-range": "all"})),
        "details": _details(client, dash_app, run_id),
        "run_page": json.dumps(call(client, dash_app, "run-body.children", {"run-id": run_id, "run-zone": "UTC"})),
    }


@pytest.mark.slow
def test_a_broker_refusal_is_a_class_for_anyone_but_an_operator(dash_app, refused_retry):
    run_id, port = refused_retry
    public = "not queued: the broker could not be reached"
    for who in ("anonymous", "viewer"):
        client = _anyone(dash_app, who)
        views = _broker_views(client, dash_app, run_id)
        told = {view: [s for s in (*BROKER_WORDS, f":{port}", str(port)) if s in body] for view, body in views.items()}
        assert {view: found for view, found in told.items() if found} == {}, who
        assert json.loads(views["one"])["last_error"] == public
        assert json.loads(views["run"])["failed_operation"]["last_error"] == public
        assert json.loads(views["error"])["text"] == public
        assert public in views["grid"]
    operator = _anyone(dash_app, "operator")
    one = operator.get(f"/api/failed-operations/{run_id}").json
    assert one["last_error"].startswith("not queued: the broker did not take the task")
    assert str(port) in one["last_error"]
    assert str(port) in operator.get(f"/api/runs/{run_id}").json["failed_operation"]["last_error"]
    assert str(port) in operator.get(f"/api/runs/{run_id}/error?source=last_error").json["text"]


# --- /metrics under gunicorn while the database stops answering ------------------------------

def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _metrics_hold_nothing(body: str, secrets: tuple[str, ...]) -> None:
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert [s.value for s in families["sync_monitor_up"].samples] == [0]
    others = {name for name in families if name != "sync_monitor_up"}  # this process's request times only
    assert all(name.startswith("sync_monitor_http_request_duration_seconds") for name in others)
    assert [s for s in secrets if s in body] == []


@pytest.mark.slow
def test_metrics_under_gunicorn_while_the_database_refuses(postgres_url, tmp_path):
    """The app starts on a database that answers; then its role may no longer log in, then its
    port closes (the server stopped): /metrics says ``sync_monitor_up 0`` and nothing else."""
    from tests.support.services import PostgresServer

    try:
        server = PostgresServer()
        server.start()
    except RuntimeError as exc:
        pytest.skip(f"no PostgreSQL server of the test's own: {exc}")
    role = "sm_metrics_role"
    try:
        admin = create_engine(server.url.replace("postgresql://", "postgresql+psycopg2://"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN SUPERUSER"))
            conn.execute(text("CREATE SCHEMA orchestration"))
        from dashapp.storage.sync_tables import metadata

        with admin.begin() as conn:
            metadata.create_all(conn)
        port = closed_port()
        env = {**os.environ, "DATABASE_URL": server.url.replace("postgres@", f"{role}@"), "PORT": str(port),
               "SQLITE_PATH": str(tmp_path / "x.db"), "SECRET_KEY": "metrics-test", "CACHE_SECONDS": "0"}
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"],
                                   cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            base = f"http://{HOST}:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if _get(f"{base}/healthz")[0] == 200:
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
            status, body = _get(f"{base}/metrics")
            assert status == 200 and "sync_monitor_up 1.0" in body
            with admin.connect() as conn:
                conn.execute(text(f"ALTER ROLE {role} NOLOGIN"))
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
                             {"r": role})
            secrets = (HOST, f":{server.port}", f"port {server.port}", role, "not permitted", "FATAL", "psycopg")
            for _ in range(3):  # each worker
                status, body = _get(f"{base}/metrics")
                assert status == 200
                _metrics_hold_nothing(body, secrets)
            admin.dispose()
            server.stop()
            for _ in range(3):
                status, body = _get(f"{base}/metrics")
                assert status == 200
                _metrics_hold_nothing(body, (*secrets, "Connection refused", "connection to server"))
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=30)
        assert "the database did not answer" in output and role in output  # the detail went to the log
    finally:
        server.close()


# --- versions on /api/system-health and /health ------------------------------------------------

@pytest.mark.slow
def test_system_health_gives_versions_and_names_to_operators_only(dash_app, use_engine, pg_engine, users_file,
                                                                  redis_url, queue):
    """Anyone: each service's status, latency and figures; never PostgreSQL's or Redis's version, the
    OS build, or a Celery worker's name (it holds the host's). An operator: all of it, as before."""
    from tests.support.celery_worker import celery_worker

    use_engine(pg_engine, AUTH_USERS_FILE=str(users_file), REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url,
               CELERY_QUEUES=queue, HEALTH_CACHE_SECONDS="0")
    with pg_engine.connect() as conn:
        postgres_version = conn.execute(text("SHOW server_version")).scalar_one()
    redis_version = redis.Redis.from_url(redis_url).info()["redis_version"]
    with celery_worker(redis_url, queue) as worker:
        secrets = (postgres_version, f'"{redis_version}"', platform.release(), platform.version(), worker,
                   worker.split("@", 1)[1], queue)
        for who in ("anonymous", "viewer"):
            client = _anyone(dash_app, who)
            health = client.get("/api/system-health")
            page = json.dumps(call(client, dash_app, "health-page-body.children"))
            for shown in (health.get_data(as_text=True), page):
                assert [s for s in secrets if s in shown] == [], who
                assert "version" not in shown, who
            assert health.json["database"]["status"] == "healthy" and health.json["database"]["response_time_ms"] >= 0
            assert health.json["redis"]["status"] == "healthy" and health.json["redis"]["response_time_ms"] >= 0
            assert health.json["celery"]["active_workers"] == 1
        operator = _anyone(dash_app, "operator")
        health = operator.get("/api/system-health").json
        assert health["database"]["server_version"] == postgres_version
        assert health["redis"]["version"] == redis_version
        assert [w["name"] for w in health["celery"]["workers"]] == [worker]
        page = json.dumps(call(operator, dash_app, "health-page-body.children"))
        assert postgres_version in page and worker in page
