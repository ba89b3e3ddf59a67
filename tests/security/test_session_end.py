"""Signing out ends the session everywhere: a cookie copied before sign-out is signed out
too (the user's session generation, in Redis or in the app's tables); a changed password or role
ends every earlier session; without the app's tables (a read-only warehouse) sessions still work."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from dashapp.auth.users import add_user
from tests.security.conftest import sign_in


def copy_of(client, dash_app):
    """A second client holding the same session cookie, as an attacker with a copied cookie."""
    cookie = client.get_cookie("sync_monitor_session")
    other = dash_app.server.test_client()
    other.set_cookie("sync_monitor_session", cookie.value)
    return other


def signed_in(client) -> bool:
    return client.get("/api/audit").status_code == 200  # operators only


@pytest.mark.parametrize("store", ["redis", "tables"])
def test_a_cookie_copied_before_sign_out_stops_working(client, dash_app, use_engine, pg_engine, app_env, redis_url,
                                                       store):
    use_engine(pg_engine, **app_env, **({"REDIS_URL": redis_url} if store == "redis" else {}))
    sign_in(client, "alice")
    stolen = copy_of(client, dash_app)
    assert signed_in(client) and signed_in(stolen)
    assert client.post("/auth/sign-out").status_code == 303
    assert not signed_in(stolen)
    sign_in(client, "alice")  # a new session works
    assert signed_in(client) and not signed_in(stolen)
    if store == "tables":
        with pg_engine.connect() as conn:
            assert conn.execute(text("SELECT generation FROM sync_monitor.session_generations "
                                     "WHERE user_name = 'alice'")).scalar() == 1


def test_a_changed_password_or_role_ends_earlier_sessions(client, dash_app, users_file):
    sign_in(client, "alice")
    assert signed_in(client)
    add_user(users_file, "alice", "operator", "a new password entirely")
    assert not signed_in(client)
    sign_in(client, "alice", "a new password entirely")
    assert signed_in(client)
    add_user(users_file, "alice", "viewer", "a new password entirely")  # a role change: same password
    assert client.get("/api/audit").status_code == 401


def test_sessions_work_without_the_app_tables(client, use_engine, pg_engine, app_env):
    with pg_engine.begin() as conn:
        conn.execute(text("DROP SCHEMA sync_monitor CASCADE"))
    use_engine(pg_engine, **app_env)
    assert sign_in(client, "bob").status_code == 303
    answer = client.get("/api/audit")
    assert answer.status_code == 403 and "bob is a viewer" in answer.json["error"]  # signed in as bob
    assert client.post("/auth/sign-out").status_code == 303
    assert client.get("/api/audit").status_code == 401
