"""The run page's retry is the /failed page's action: an operator's click queues the failed run
(its audit row says so); a viewer sees no button and a crafted click is refused and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from dashapp.auth import users as auth
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.callbacks import callback_body
from tests.support.rows import Run, insert_runs


@pytest.fixture
def failed_run(dash_app, use_engine, pg_engine, tmp_path, redis_url):
    empty_app_tables(pg_engine)
    (run,) = insert_runs(pg_engine, [Run("hubspot", "contacts", "failed", timedelta(minutes=5), timedelta(minutes=4),
                                         error="HTTPError: 503 Service Unavailable")], utc_now())
    users = tmp_path / "users.json"
    auth.add_user(users, "alice", "operator", "a-long-password")
    auth.add_user(users, "bob", "viewer", "another-long-password")
    use_engine(pg_engine, AUTH_USERS_FILE=str(users), CELERY_BROKER_URL=redis_url, RETRY_QUEUE="sm_run_page_test")
    assert dash_app.server.test_client().get("/_dash-dependencies").status_code == 200  # registers the callbacks
    return run


def _signed_in(dash_app, name: str, password: str):
    client = dash_app.server.test_client()
    answer = client.post("/auth/sign-in", data={"username": name, "password": password, "next": "/"})
    assert answer.status_code in (302, 303)
    return client


def _page_state(client, dash_app, run_id: int, after_retry: bool = False) -> str:
    """The retry area's class after the page's refresh callback, as the browser would call it (on
    its timer, or ``after_retry``: on the retry's result)."""
    _, (body,) = callback_body(dash_app, "run-body.children",
                               [{"id": "run-refresh-interval", "property": "n_intervals", "value": None},
                                {"id": "run-zone", "property": "data", "value": "UTC"},
                                {"id": "run-retry-result", "property": "children", "value": None},
                                {"id": "run-theme", "property": "data", "value": "light"}],
                               [{"id": "run-id", "property": "data", "value": run_id}])
    if after_retry:
        body["changedPropIds"] = ["run-retry-result.children"]
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200
    return answer.get_json()["response"]["run-retry-area"]["className"]


def _click(client, dash_app, run_id: int) -> str:
    _, (body,) = callback_body(dash_app, "run-retry-result.children",
                               [{"id": "run-retry", "property": "submit_n_clicks", "value": 1}],
                               [{"id": "run-id", "property": "data", "value": run_id}])
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200
    return answer.get_json()["response"]["run-retry-result"]["children"]


def _audit(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, action, result, target, source FROM sync_monitor.audit_log"
                                 " WHERE action = 'retry' ORDER BY id"))
        return [tuple(r) for r in rows]


def test_a_viewer_has_no_button_and_a_crafted_click_is_refused(dash_app, failed_run, pg_engine):
    assert _page_state(dash_app.server.test_client(), dash_app, failed_run.id) == "d-none"  # anonymous
    bob = _signed_in(dash_app, "bob", "another-long-password")
    assert _page_state(bob, dash_app, failed_run.id) == "d-none"
    assert _click(bob, dash_app, failed_run.id).startswith("Not allowed (403)")
    assert _audit(pg_engine) == [("bob", "retry", "denied", f"operation {failed_run.id}", "page")]


def test_an_operator_retries_the_run_from_its_page(dash_app, failed_run, pg_engine):
    alice = _signed_in(dash_app, "alice", "a-long-password")
    assert _page_state(alice, dash_app, failed_run.id) == "mb-2"
    message = _click(alice, dash_app, failed_run.id)
    assert "queued" in message.lower(), message
    assert _audit(pg_engine) == [("alice", "retry", "ok", f"operation {failed_run.id}", "page")]
    with pg_engine.connect() as conn:
        state = conn.execute(text("SELECT state, attempts FROM sync_monitor.failed_operations WHERE sync_id = :i"),
                             {"i": failed_run.id}).one()
    assert tuple(state) == ("queued", 1)
    assert _page_state(alice, dash_app, failed_run.id) == "d-none"  # queued: nothing to retry now


def test_after_a_retry_the_page_reads_the_run_fresh_not_the_shared_copy(dash_app, failed_run, use_engine, pg_engine):
    from dashapp import runtime
    from dashapp.payloads import result_cache

    settings = runtime.current.settings
    use_engine(pg_engine, AUTH_USERS_FILE=str(settings.auth_users_file), CELERY_BROKER_URL=settings.celery_broker_url,
               RETRY_QUEUE="sm_run_page_test", CACHE_SECONDS="30")  # the run page shared for 30 s
    result_cache.clear()
    alice = _signed_in(dash_app, "alice", "a-long-password")
    assert _page_state(alice, dash_app, failed_run.id) == "mb-2"
    assert "queued" in _click(alice, dash_app, failed_run.id).lower()
    assert _page_state(alice, dash_app, failed_run.id) == "mb-2"  # the timer inside the window: the shared copy
    assert _page_state(alice, dash_app, failed_run.id, after_retry=True) == "d-none"  # the retry's own: fresh
    result_cache.clear()
