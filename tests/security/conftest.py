"""Shared set-up of the security suite: the app on the test PostgreSQL database with an operator
(alice) and a viewer (bob), a Redis broker with an empty queue of its own, and no sign-in failures
left over from an earlier test."""

from __future__ import annotations

import uuid

import pytest

from dashapp.auth import sign_in_limit
from tests.conftest import empty_app_tables
from tests.support.users_files import users_file as users_file_of

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def no_earlier_failures():
    """No sign-in failures from an earlier test."""
    sign_in_limit.LOCAL.clear()
    yield
    sign_in_limit.LOCAL.clear()


@pytest.fixture
def users_file(tmp_path):
    return users_file_of(tmp_path / "users.json", ("alice", "operator", PASSWORD), ("bob", "viewer", PASSWORD))


@pytest.fixture
def queue() -> str:
    return f"sm_sec_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def app_env(dash_app, use_engine, pg_engine, users_file, redis_url, queue):
    """The app on the test database with users and a broker (no worker: a retry stays queued)."""
    empty_app_tables(pg_engine)
    env = {"AUTH_USERS_FILE": str(users_file), "CELERY_BROKER_URL": redis_url, "CELERY_QUEUES": queue}
    use_engine(pg_engine, **env)
    return env


@pytest.fixture
def client(dash_app, app_env):
    return dash_app.server.test_client()


def sign_in(client, name: str, password: str = PASSWORD, next_path: str = "/failed"):
    return client.post("/auth/sign-in", data={"username": name, "password": password, "next": next_path})
