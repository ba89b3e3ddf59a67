"""A database that refuses the app names its host, port and role in the driver's error.
Anonymous users and viewers get "database unavailable" (503 bodies, /readyz, /api/system-health,
the pages' notes); a signed-in operator sees the detail; the log always has it."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from dashapp.storage.db import postgres_engine
from dashapp.web import ids
from tests.conftest import _admin_engine
from tests.security.conftest import sign_in
from tests.support.callbacks import call

ROLE = "sm_sec_nologin"
SECRETS = (ROLE, "127.0.0.1", "5432", "not permitted")


@pytest.fixture
def refusing_engine(postgres_url):
    admin = _admin_engine()
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE}).first():
            conn.execute(text(f"CREATE ROLE {ROLE} NOLOGIN"))
    admin.dispose()
    url = make_url(postgres_url).set(username=ROLE, password=None).render_as_string(hide_password=False)
    engine = postgres_engine(url, "orchestration")
    yield engine
    engine.dispose()


@pytest.fixture
def refusing_app(dash_app, use_engine, refusing_engine, users_file):
    use_engine(refusing_engine, AUTH_USERS_FILE=str(users_file), HEALTH_CACHE_SECONDS="0")
    return dash_app.server.test_client()


def leaks(body: str) -> list[str]:
    return [s for s in SECRETS if s in body]


def test_anonymous_users_and_viewers_learn_only_that_the_database_is_unavailable(refusing_app, dash_app, caplog):
    client = refusing_app
    for who in ("anonymous", "viewer"):
        if who == "viewer":
            sign_in(client, "bob")
        with caplog.at_level(logging.WARNING):
            stats = client.get("/api/stats")
        assert stats.status_code == 503 and stats.json == {"error": "database unavailable"}
        ready = client.get("/readyz")
        assert ready.status_code == 503 and leaks(ready.get_data(as_text=True)) == []
        health = client.get("/api/system-health")
        assert health.json["database"]["status"] == "unhealthy"
        assert health.json["database"]["error"] == "database unavailable"
        assert leaks(health.get_data(as_text=True)) == []
        overview = call(client, dash_app, f"{ids.CRM_STATUS_NOTE}.children")
        assert leaks(json.dumps(overview)) == []
        assert ROLE in caplog.text  # the detail went to the log


def test_an_operator_sees_the_detail(refusing_app, dash_app, use_engine, refusing_engine, users_file, redis_url):
    # sign-outs are kept in Redis here: with them in the refusing database, the session could not
    # be checked, and would read as a viewer (tests/security/test_revocation_outage.py)
    use_engine(refusing_engine, AUTH_USERS_FILE=str(users_file), HEALTH_CACHE_SECONDS="0", REDIS_URL=redis_url)
    client = refusing_app
    sign_in(client, "alice")
    stats = client.get("/api/stats")
    assert stats.status_code == 503 and f'role "{ROLE}" is not permitted to log in' in stats.json["error"]
    assert ROLE in client.get("/api/system-health").json["database"]["error"]
    use_engine(refusing_engine, AUTH_USERS_FILE=str(users_file), HEALTH_CACHE_SECONDS="0")
    assert client.get("/api/stats").json == {"error": "database unavailable"}  # actions paused: a viewer
