"""A property-based sweep (hypothesis) of hostile input: random and crafted values for every JSON
endpoint's parameters, for the action bodies, and for the history grid's filter and sort model.
Never a 500; every 400 names the parameter it refused; the database is unchanged (an action
refused with a 400 leaves no audit row either). Runs against the test PostgreSQL database.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from dashapp.auth import users as auth
from queries._sql import utc_now
from tests.conftest import empty_app_tables
from tests.support.callbacks import callback_body, history_grid_body
from tests.support.rows import Run, insert_runs

HOSTILE = ["", " ", "-1", "0", "1", "7", "365", "366", "99999999999999999999", "-99999999999999999999", "1e3",
           "NaN", "inf", "0x10", "1.5", "' OR 1=1 --", "'; DROP TABLE orchestration.sync_history; --", "\x00",
           "a\x00b", "%00", "../../etc/passwd", "<script>alert(1)</script>", "null", "[]", "{}", "{\"a\":",
           "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u202e", "2026-13-45", "9999-12-31T23:59:59", "0001-01-01", "-infinity", "24h", "all",
           "any", "failed", "hubspot", "start_time:desc", "id:asc,crm_source:sideways", "x" * 5000]
VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40), st.integers().map(str))

# endpoint -> the parameters it reads (each also gets junk parameters it does not read)
GET_PARAMS = {
    "/api/stats": [],
    "/api/crm-status": [],
    "/api/recent-syncs": ["limit"],
    "/api/performance-charts": ["days", "crm_source", "sync_type"],
    "/api/errors": ["days"],
    "/api/api-stats": ["hours"],
    "/api/rate-limits": ["hours"],
    "/api/circuit-breakers": ["hours"],
    "/api/failed-operations": ["age", "crm_source", "operation_type", "state", "limit"],
    "/api/audit": ["limit"],
    "/api/alerts": ["state", "severity", "rule", "age", "limit"],
    "/export/sync-history.csv": ["range", "start", "end", "crm_source", "status", "sync_type", "q", "sort", "filter"],
    "/api/system-health": [],
    "/metrics": [],
    "/readyz": [],
}
TABLES = ["orchestration.sync_history", "orchestration.sync_schedule", "sync_monitor.failed_operations",
          "sync_monitor.operation_attempts", "sync_monitor.alerts", "sync_monitor.alert_notifications",
          "sync_monitor.api_calls", "sync_monitor.circuit_breaker_events"]
SWEEP = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def snapshot(engine, tables=TABLES) -> dict:
    """Every row of every table, hashed in the database."""
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                                     f" FROM {t} AS t")).one() for t in tables}


def audit_rows(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM sync_monitor.audit_log")).scalar())


@pytest.fixture
def client(dash_app, use_engine, pg_engine, tmp_path, redis_url):
    empty_app_tables(pg_engine)
    now = utc_now()
    insert_runs(pg_engine, [Run("hubspot", "contacts", "success", timedelta(minutes=n + 2), timedelta(minutes=n + 1),
                                10, 5, 5) for n in range(5)], now)
    users = tmp_path / "users.json"
    auth.add_user(users, "alice", "operator", "a-long-password")
    use_engine(pg_engine, AUTH_USERS_FILE=str(users), CELERY_BROKER_URL=redis_url)
    test_client = dash_app.server.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(b"alice:a-long-password").decode()
    before = snapshot(pg_engine)
    yield test_client
    assert snapshot(pg_engine) == before


def judge(answer, names: list[str]) -> None:
    """No 5xx (the database and the broker are up), and a 400 names a parameter."""
    assert answer.status_code < 500, answer.get_data(as_text=True)[:500]
    if answer.status_code == 400:
        error = answer.get_json()["error"]
        assert any(error.startswith(f"{name}:") for name in names), error


@pytest.mark.parametrize("path", sorted(GET_PARAMS))
def test_query_parameters(client, path):
    names = GET_PARAMS[path]
    for name in [*names, "junk"]:  # every crafted value in every parameter, then random ones
        for value in HOSTILE:
            judge(client.get(path, query_string={name: value}), [name])

    @SWEEP
    @given(st.dictionaries(st.sampled_from([*names, "junk", "limit", "days"]), st.lists(VALUES, min_size=1,
                                                                                          max_size=3)))
    def sweep(args: dict) -> None:
        answer = client.get(path, query_string=[(k, v) for k, vs in args.items() for v in vs])
        judge(answer, list(args))

    sweep()


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
IDS = st.lists(st.one_of(st.integers(), st.sampled_from([2**63, 2**31, -1, 0, True]), st.text(max_size=5)),
               max_size=5)


def test_bulk_retry_bodies(client, pg_engine):
    @SWEEP
    @given(st.one_of(JSON, st.fixed_dictionaries({"ids": IDS}), st.fixed_dictionaries({"filter": JSON}),
                     st.fixed_dictionaries({"ids": IDS, "filter": JSON})))
    def sweep(body) -> None:
        audits = audit_rows(pg_engine)
        answer = client.post("/api/failed-operations/retry", data=json.dumps(body), content_type="application/json")
        judge(answer, ["body", "ids", "filter", "age", "state"])
        if answer.status_code == 400:
            assert audit_rows(pg_engine) == audits

    sweep()


def test_path_ids_and_action_bodies(client, pg_engine):
    @SWEEP
    @given(st.one_of(st.integers(), st.sampled_from([2**63, 2**31, 10**30]), st.text(max_size=12)),
           st.sampled_from(["acknowledge", "resolve", "delete"]), JSON)
    def sweep(ident, action, body) -> None:
        for method, path, note in (("GET", f"/api/failed-operations/{ident}", None),
                                   ("POST", f"/api/failed-operations/{ident}/retry", None),
                                   ("POST", f"/api/alerts/{ident}/{action}", {"note": body})):
            audits = audit_rows(pg_engine)
            answer = client.open(path, method=method, json=note)
            judge(answer, ["id", "note"])
            if answer.status_code == 400:
                assert audit_rows(pg_engine) == audits

    sweep()


MODEL_FILTER = st.one_of(
    JSON,
    st.dictionaries(st.sampled_from(["crm_source", "status", "records_processed", "start_time", "error_message",
                                     "id", "nope"]),
                    st.fixed_dictionaries({"filterType": st.sampled_from(["text", "number", "date", "set", "x"]),
                                           "type": st.sampled_from(["contains", "equals", "inRange", "greaterThan",
                                                                    "blank", "bogus"]),
                                           "filter": JSON, "filterTo": JSON, "dateFrom": VALUES}),
                    max_size=3))
SORT_MODEL = st.one_of(JSON, st.lists(st.fixed_dictionaries({"colId": VALUES, "sort": st.sampled_from(
    ["asc", "desc", "up", ""])}), max_size=3))


def grid_request(dash_app, request) -> dict:
    return history_grid_body(dash_app, request)


def test_history_grid_filter_and_sort_model(client, dash_app):
    """The grid's own request, posted to its Dash callback as the browser would."""
    assert client.get("/_dash-dependencies").status_code == 200  # Dash registers its callbacks on first use
    @SWEEP
    @given(MODEL_FILTER, SORT_MODEL, st.one_of(st.integers(), JSON), st.one_of(st.integers(), JSON))
    def sweep(filter_model, sort_model, start_row, end_row) -> None:
        request = {"filterModel": filter_model, "sortModel": sort_model, "startRow": start_row, "endRow": end_row}
        answer = client.post("/_dash-update-component", json=grid_request(dash_app, request))
        assert answer.status_code in (200, 204), answer.get_data(as_text=True)[:500]
        if answer.status_code == 200:
            response = answer.get_json()["response"]
            message = response["history-message"]["children"]
            if message is not None:
                assert message.startswith(("This filter cannot be applied: filter:",
                                           "This filter cannot be applied: sort:",
                                           "This filter cannot be applied: startRow:",
                                           "This filter cannot be applied: endRow:")), message

    sweep()


def test_alert_page_action_requests(client, dash_app):
    """The alerts page's action (the Store its buttons fill), posted to its Dash callback with crafted
    ids, actions and notes: always a "Not done" message on the page, nothing changed (no alert fires)."""
    assert client.get("/_dash-dependencies").status_code == 200
    signed_in = client.post("/auth/sign-in", data={"username": "alice", "password": "a-long-password", "next": "/"})
    assert signed_in.status_code in (302, 303)  # the page's callbacks use the session, not Basic

    @SWEEP
    @given(st.one_of(st.integers(), st.sampled_from([2**63, 10**30]), JSON),
           st.one_of(st.sampled_from(["acknowledge", "resolve", "delete"]), JSON), JSON)
    def sweep(ident, action, note) -> None:
        request = {"id": ident, "action": action, "note": note}
        _, (body,) = callback_body(dash_app, "alert-action-result.children",
                                   [{"id": "alert-request", "property": "data", "value": request}], [])
        answer = client.post("/_dash-update-component", json=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
        message = answer.get_json()["response"]["alert-action-result"]["children"]
        assert message.startswith("Not done"), message

    sweep()


def test_sign_in_form_fields(client, pg_engine):
    """The sign-in form with crafted names, passwords and ``next`` values: a redirect back to this
    site, a 400 naming the field, or 429 once the attempts run out; never a 500."""
    from dashapp.auth import sign_in_limit

    client.environ_base.pop("HTTP_AUTHORIZATION")
    try:
        for value in HOSTILE:
            for form in ({"username": value, "password": "x", "next": "/"}, {"username": "alice", "password": value},
                         {"username": "nobody", "password": "y", "next": value}):
                sign_in_limit.LOCAL.clear()
                answer = client.post("/auth/sign-in", data=form)
                judge(answer, list(form))
                if answer.status_code in (302, 303):
                    assert answer.headers["Location"].startswith("/"), answer.headers["Location"]
                    assert not answer.headers["Location"].startswith("//")
    finally:
        sign_in_limit.LOCAL.clear()
