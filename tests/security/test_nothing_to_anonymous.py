"""While the database refuses the app, nothing about the infrastructure reaches an
anonymous user on any route: every route of ``dashapp.web.routes`` (JSON APIs, export, /metrics,
the probes, sign-in) and every Dash callback of every page answers without a host, port, driver
text, role, database or schema name; /metrics says ``sync_monitor_up 0`` and stays valid
Prometheus text; the log has the detail. Three refusals: a closed port, a role that may not log in,
and a database that takes no connections (ALTER DATABASE ... ALLOW_CONNECTIONS false)."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url

from dashapp.storage.db import postgres_engine
from dashapp.web import routes
from tests.conftest import _admin_engine, closed_port
from tests.security.test_error_disclosure import ROLE as NOLOGIN_ROLE
from tests.security.test_error_disclosure import refusing_engine  # noqa: F401 - the fixture

HOST = "127.0.0.1"
DRIVER_WORDS = ("psycopg", "OperationalError", "FATAL", "could not connect", "Connection refused",
                "connection to server", "not permitted", "accepting connections", "SELECT ", "sqlalchemy")
# a value for each variable of a route's path, and a body for the POST routes
PATH_VALUES = {"sync_id": "1", "raw_id": "1", "alert_id": "1", "action": "acknowledge"}
POST_BODIES = {"/api/failed-operations/retry": {"ids": [1]}, "/auth/sign-in": None}
# what a page's components hold when the browser calls a callback (any other input is None)
CALLBACK_VALUES = {
    "viewer-timezone.data": "UTC", "theme-mode.data": "light", "errors-range.value": "7d",
    "performance-range.value": "7d", "api-usage-range.value": "24h", "history-range.value": "all", "run-id.data": 1,
    "run-zone.data": "UTC", "history-grid.getRowsRequest": {"startRow": 0, "endRow": 100},
    "app-config.data": {"refresh_seconds": 2},
}


@pytest.fixture
def closed_database():
    """A database of this lane's own that takes no connections."""
    name = f"sync_monitor_lane_d_closed_{uuid.uuid4().hex[:8]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["closed port", "role may not log in", "database takes no connections"])
def refusal(request, postgres_url) -> tuple:
    """(an engine the database refuses, the words that would give the infrastructure away)."""
    url = make_url(postgres_url)
    if request.param == "closed port":
        port = closed_port()
        engine = postgres_engine(f"postgresql://postgres@{HOST}:{port}/nowhere", "orchestration",
                                 connect_args={"connect_timeout": 2})
        secrets = (HOST, f"port {port}", f":{port}", "nowhere", '"postgres"')
    elif request.param == "role may not log in":
        request.getfixturevalue("refusing_engine")  # tests/security/test_error_disclosure.py makes the role
        engine = postgres_engine(url.set(username=NOLOGIN_ROLE).render_as_string(hide_password=False),
                                 "orchestration")
        secrets = (HOST, "port 5432", ":5432", NOLOGIN_ROLE, url.database)
    else:
        name = request.getfixturevalue("closed_database")
        engine = postgres_engine(url.set(database=name).render_as_string(hide_password=False), "orchestration")
        secrets = (HOST, "port 5432", ":5432", name)
    yield engine, (*secrets, *DRIVER_WORDS, "orchestration")
    engine.dispose()


def leaks(body: str, secrets: tuple[str, ...]) -> list[str]:
    return [s for s in secrets if s in body]


def route_path(path: str) -> str:
    """A route's rule with a value for each of its variables (``<int:sync_id>`` -> ``1``)."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PATH_VALUES[m.group(1)], path)


def every_route(client) -> list[tuple[str, int, str]]:
    """(route, status, body) for each route of the table, as an anonymous user calls it."""
    answers = []
    for route in routes.ROUTES:
        path = route_path(route.path)
        if route.method == "GET":
            answer = client.get(path)
        else:
            body = POST_BODIES.get(route.path, {})
            answer = (client.post(path, data={"username": "nobody", "password": "wrong", "next": "/"})
                      if route.path == "/auth/sign-in" else client.post(path, json=body))
        answers.append((f"{route.method} {path}", answer.status_code, answer.get_data(as_text=True)))
    return answers


def callback_body(key: str, spec: dict, pathname: str) -> dict:
    def value(item: dict):
        if item["id"] == "_pages_location":
            return pathname if item["property"] == "pathname" else ""
        if item["property"] == "n_intervals":
            return 1
        return CALLBACK_VALUES.get(f"{item['id']}.{item['property']}")

    inputs = [{**i, "value": value(i)} for i in spec["inputs"] if isinstance(i["id"], str)]
    state = [{**s, "value": value(s)} for s in spec.get("state") or [] if isinstance(s["id"], str)]
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in key.strip(".").split("...")]
    first = inputs[0] if inputs else spec["inputs"][0]
    return {"output": key, "outputs": outputs if key.startswith("..") else outputs[0], "inputs": inputs, "state": state,
            "changedPropIds": [f"{first['id']}.{first['property']}"]}


def every_callback(client, dash_app) -> list[tuple[str, int, str]]:
    """(callback, status, body) for each server callback, and the page callback for every page."""
    assert client.get("/_dash-dependencies").status_code == 200
    answers = []
    for key, spec in dash_app.callback_map.items():
        if "callback" not in spec or any(not isinstance(i["id"], str) for i in spec["inputs"]):
            continue  # clientside (no request), or pattern-matched inputs: rows drawn from data it could not read
        pathnames = [page.path.replace("<run_id>", "1") for page in routes.PAGES] if "_pages_content" in key \
            else ["/"]
        for pathname in pathnames:
            answer = client.post("/_dash-update-component", json=callback_body(key, spec, pathname))
            answers.append((f"{key[:60]} {pathname}", answer.status_code, answer.get_data(as_text=True)))
    return answers


def test_no_route_or_callback_tells_an_anonymous_user_about_the_infrastructure(dash_app, use_engine, refusal,
                                                                            caplog):
    engine, secrets = refusal
    use_engine(engine, HEALTH_CACHE_SECONDS="0")
    client = dash_app.server.test_client()
    with caplog.at_level(logging.WARNING):
        answers = every_route(client) + every_callback(client, dash_app)
    assert len(answers) > len(routes.ROUTES) + len(routes.PAGES)
    told = {what: leaks(body, secrets) for what, _, body in answers if leaks(body, secrets)}
    assert told == {}
    failed = {what: status for what, status, _ in answers if status >= 500 and status != 503}
    assert failed == {}
    refused = {what: body for what, status, body in answers if status == 400}
    assert refused == {}  # every callback ran on the values it was sent
    assert any(s in caplog.text for s in secrets[:3])  # the detail went to the log


def test_metrics_say_the_database_is_down_in_valid_prometheus_text(dash_app, use_engine, refusal, caplog):
    engine, secrets = refusal
    use_engine(engine)
    with caplog.at_level(logging.WARNING, logger="dashapp.web.api.metrics"):
        answer = dash_app.server.test_client().get("/metrics")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain; version=")
    body = answer.get_data(as_text=True)
    families = {f.name: f for f in text_string_to_metric_families(body)}  # raises on invalid text
    assert [s.value for s in families["sync_monitor_up"].samples] == [0]
    assert not any(name.startswith(("sync_monitor_runs", "sync_monitor_sync_state", "sync_monitor_alerts"))
                   for name in families)
    assert leaks(body, secrets) == []
    assert "the database did not answer" in caplog.text and any(s in caplog.text for s in secrets[:3])


def test_a_service_down_alert_names_no_host_or_port(dash_app, use_engine, pg_engine, tmp_path, caplog):
    """An alert is read by anyone (the alerts page, /api/alerts, Slack): Redis refusing the app
    fires ``service_down`` with a summary that names nothing of the server."""
    from dashapp.alerts import evaluation as alerts
    from dashapp.config import load_settings
    from tests.conftest import empty_app_tables

    empty_app_tables(pg_engine)
    port = closed_port()
    settings = load_settings({"REDIS_URL": f"redis://{HOST}:{port}/0", "HEALTH_CACHE_SECONDS": "0",
                              "SQLITE_PATH": str(tmp_path / "x.db")})
    assert "service_down:redis" in alerts.evaluate(pg_engine, settings).fired
    use_engine(pg_engine)
    listed = dash_app.server.test_client().get("/api/alerts")
    redis_alert = next(a for a in listed.json["alerts"] if a["rule"] == "service_down")
    assert redis_alert["summary"] == "redis unavailable: an operator sees its error on /health"
    secrets = (HOST, f":{port}", f"port {port}", "Connection refused", "Error 111")
    assert leaks(listed.get_data(as_text=True), secrets) == []
