"""Shared set-up of the security suite: the app on the test PostgreSQL database with an operator
(alice) and a viewer (bob), a Redis broker with an empty queue of its own, and no sign-in failures
left over from an earlier test."""

from __future__ import annotations

import uuid

import pytest

from dashapp.auth import sign_in_limit
from dashapp.auth.users import add_user
from tests.conftest import empty_app_tables

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def no_earlier_failures():
    """No sign-in failures from an earlier test."""
    sign_in_limit.LOCAL.clear()
    yield
    sign_in_limit.LOCAL.clear()


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users.json"
    add_user(path, "alice", "operator", PASSWORD)
    add_user(path, "bob", "viewer", PASSWORD)
    return path


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


def call(client, dash_app, output_part: str, values: dict | None = None) -> dict:
    """Call the callback whose output key contains ``output_part`` as the renderer would, its
    inputs and state holding ``values`` (by component id; None otherwise); the response's props."""
    if not any(output_part in k for k in dash_app.callback_map):
        assert client.get("/_dash-dependencies").status_code == 200  # Dash registers callbacks on first use
    key, spec = next((k, v) for k, v in dash_app.callback_map.items() if output_part in k)
    values = values or {}
    inputs = [{**i, "value": values.get(i["id"])} for i in spec["inputs"]]
    state = [{**s, "value": values.get(s["id"])} for s in spec.get("state") or []]
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in key.strip(".").split("...")]
    body = {"output": key, "outputs": outputs, "inputs": inputs, "state": state,
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return answer.json["response"]
