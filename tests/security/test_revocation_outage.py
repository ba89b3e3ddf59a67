"""Revocation fails closed. While the store of session generations cannot answer
(Redis stopped, the app's database erroring), a session, which may be a signed-out copy, reads as
a viewer whose actions are paused, and the API and pages say why; once the store answers again the
copy is signed out and the real session acts. Without the app's tables (a read-only warehouse)
sessions keep working, as tests/security/test_session_end.py shows."""

from __future__ import annotations

import json

import pytest
import redis
from sqlalchemy import text

from dashapp.auth import session_generation
from dashapp.web.pages import failed as failed_page
from tests.conftest import need
from tests.security.conftest import sign_in
from tests.security.test_session_end import copy_of
from tests.support.services import RedisServer

PAUSED = "sign-outs cannot be checked right now ({}); actions are paused"


@pytest.fixture
def own_redis():
    try:
        server = RedisServer(keep_data=True)
        server.start()
    except (RuntimeError, OSError) as exc:
        need("redis-server", str(exc))
    yield server
    server.close()


def page_text(dash_app, client) -> str:
    """The /failed page's layout as ``client``'s session sees it, as text."""
    cookie = client.get_cookie("sync_monitor_session")
    with dash_app.server.test_request_context("/failed", headers={"Cookie": f"sync_monitor_session={cookie.value}"}):
        return json.dumps(failed_page.layout().to_plotly_json(), default=lambda o: o.to_plotly_json())


def test_redis_stopped_mid_session_pauses_actions(client, dash_app, use_engine, pg_engine, app_env, own_redis):
    use_engine(pg_engine, **app_env, REDIS_URL=own_redis.url)
    sign_in(client, "alice")
    stolen = copy_of(client, dash_app)
    assert client.post("/auth/sign-out").status_code == 303
    sign_in(client, "alice")  # the real session, in the next generation
    assert client.get("/api/audit").status_code == 200 and stolen.get("/api/audit").status_code == 401
    assert redis.Redis.from_url(own_redis.url).get(session_generation.PREFIX + "alice") == b"1"

    own_redis.stop()
    message = PAUSED.format("Redis unavailable")
    for session in (stolen, client):  # which one is the signed-out copy cannot be told: neither acts
        refused = session.post("/api/failed-operations/1/retry")
        assert refused.status_code == 503 and refused.json == {"error": message}
        assert session.get("/api/audit").status_code == 503
        assert session.get("/api/failed-operations").status_code == 200  # reading goes on
    shown = page_text(dash_app, client)
    assert f"Read-only: {message}." in shown  # the page's note
    assert '"Retry selected"' in shown and "d-none" in shown  # the action buttons are hidden

    own_redis.start()  # back, with what it held
    assert client.get("/api/audit").status_code == 200  # acts again
    assert stolen.get("/api/audit").status_code == 401  # the copy is signed out
    assert f"Read-only: {message}." not in page_text(dash_app, client)


def test_the_table_store_erroring_pauses_actions(client, dash_app, use_engine, pg_engine, app_env):
    use_engine(pg_engine, **app_env)
    sign_in(client, "alice")
    assert client.get("/api/audit").status_code == 200
    with pg_engine.begin() as conn:  # a column the read needs is gone: an error other than "no such table"
        conn.execute(text("ALTER TABLE sync_monitor.session_generations RENAME COLUMN generation TO g"))
    try:
        refused = client.get("/api/audit")
        assert refused.status_code == 503 and refused.json == {"error": PAUSED.format("the app's database unavailable")}
    finally:
        with pg_engine.begin() as conn:
            conn.execute(text("ALTER TABLE sync_monitor.session_generations RENAME COLUMN g TO generation"))
    assert client.get("/api/audit").status_code == 200
