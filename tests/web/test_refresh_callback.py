"""The self-refreshing pages' one refresh callback (``refresh_bar.refresh_callback``).

Each page's real callback is posted as the browser does, with the app on a database that refuses
connections: the page's outputs stay as they were (Dash leaves them out of the response), and the
refresh state keeps the last good time and names the error, as the viewer may see it."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from dashapp.storage.db import postgres_engine
from dashapp.web import ids
from dashapp.web.components.refresh_bar import chosen
from queries.clock import utc_now
from tests.conftest import closed_port
from tests.support.callbacks import call
from tests.support.users_files import users_file

LAST_GOOD = "2026-01-02T03:04:05Z"
PASSWORD = "correct horse battery"

# page: (an output of its refresh callback, its refresh state, its interval, what the log calls it;
# the outputs a refresh that failed still sends)
PAGES = {
    "performance": (f"{ids.DURATION_CHART}.figure", ids.PERFORMANCE_REFRESH_STATE, ids.PERFORMANCE_INTERVAL,
                    "performance refresh failed", set()),
    "errors": (f"{ids.ERRORS_CLASS_CHART}.figure", ids.ERRORS_REFRESH_STATE, ids.ERRORS_INTERVAL,
               "errors refresh failed", set()),
    "alerts": (f"{ids.ALERTS_ACTIVE}.children", ids.ALERTS_REFRESH_STATE, ids.ALERTS_INTERVAL,
               "alerts refresh failed", set()),
    "failed": (f"{ids.FAILED_GRID}.rowData", ids.FAILED_REFRESH_STATE, ids.FAILED_INTERVAL,
               "failed-operations refresh failed", set()),
    # the two pages whose panels load on their own: each panel logs its failure
    "api-usage": (f"{ids.RATE_LIMIT_TILES}.children", ids.API_USAGE_REFRESH_STATE, ids.API_USAGE_INTERVAL,
                  "Rate limits did not load", set()),
    "overview": (f"{ids.OVERVIEW_CARDS}.children", ids.OVERVIEW_REFRESH_STATE, ids.OVERVIEW_INTERVAL,
                 "The cards did not load",
                 {ids.OVERVIEW_CARDS_NOTE, ids.CRM_STATUS_NOTE, ids.RECENT_ACTIVITY_NOTE}),  # the banner says it
}


@pytest.fixture
def refused(dash_app, use_engine, tmp_path, redis_url):
    """The app on a database nothing listens for, with an operator (alice) whose sign-outs are
    kept in Redis (kept in the app's tables, a session could not be confirmed: actions pause and
    an operator reads what a viewer does); its port."""
    port = closed_port()
    users = users_file(tmp_path / "users.json", ("alice", "operator", PASSWORD))
    engine = postgres_engine(f"postgresql://postgres@127.0.0.1:{port}/nothing", "orchestration")
    use_engine(engine, AUTH_USERS_FILE=str(users), REDIS_URL=redis_url)
    yield port
    engine.dispose()


def _refresh_failing(client, dash_app, page: str) -> tuple[dict, dict]:
    """A refresh of ``page`` after one that went well; the response and the new refresh state."""
    output, state_id, interval, _, _ = PAGES[page]
    before = utc_now().replace(microsecond=0)
    response = call(client, dash_app, output, {interval: 3, state_id: {"ok": True, "updated_at": LAST_GOOD,
                                                                      "error": None}})
    state = response[state_id]["data"]
    assert state["ok"] is False and state["updated_at"] == LAST_GOOD  # the banner: "last updated" stays
    assert before <= datetime.fromisoformat(state["attempted_at"].replace("Z", "+00:00")) <= utc_now()
    return response, state


@pytest.mark.parametrize("page", list(PAGES))
def test_a_refresh_on_a_database_that_is_down_keeps_the_page_and_names_the_error(page, refused, dash_app, caplog):
    port = refused
    client = dash_app.server.test_client()
    _, state_id, _, logged, still_sent = PAGES[page]

    with caplog.at_level(logging.WARNING):
        response, state = _refresh_failing(client, dash_app, page)
    assert set(response) == {state_id} | still_sent  # every other output kept as it was (no_update)
    assert all(response[part]["children"] is None for part in still_sent)
    assert state["error"] == "database unavailable"  # all an anonymous viewer learns
    assert logged in caplog.text and f"port {port} failed" in caplog.text  # the log has the detail

    assert client.post("/auth/sign-in", data={"username": "alice", "password": PASSWORD,
                                              "next": "/"}).status_code in (302, 303)
    response, state = _refresh_failing(client, dash_app, page)
    assert set(response) == {state_id} | still_sent
    assert f'connection to server at "127.0.0.1", port {port} failed' in state["error"]  # an operator's words


@pytest.mark.parametrize(("value", "expected"), [
    ("30", 30), (30, 30), ("31", 7), ("", 7), (None, 7), ("-30", 7), ("30.0", 7), (" 30", 7), ("²", 7),
    ("٣٠", 7), ("3_0", 7), ("9" * 5000, 7)])
def test_a_select_value_is_one_of_its_choices_or_the_default(value, expected):
    assert chosen(value, (1, 7, 30, 90), 7) == expected
