"""The one sweep of hostile input (hypothesis, derandomized): whatever a client sends, the app
answers below 500, in well under 2 s, and a 400 names what it refused; the database is unchanged
(an action refused with a 400 leaves no audit row either). Runs against the test PostgreSQL.

- query parameters: crafted and random values for every JSON endpoint's parameters;
- action bodies and path ids: bulk retry, a run's retry, an alert's acknowledge and resolve;
- bodies of any size, depth, type and content type on every POST route and Dash's callback
  endpoint, to an anonymous user and an operator; a 100,000-deep JSON body; a grid filter nested
  500 levels; a list where a filter wants text;
- the history grid's filter and sort model, the alerts page's action and every Dash callback in its
  declared shape with values of any type;
- the sign-in form's fields.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from dashapp.auth import users as auth
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.security.conftest import PASSWORD, sign_in
from tests.security.test_cpu_limits import grid_body
from tests.support.callbacks import callback_body, history_grid_body
from tests.support.rows import Run, insert_runs

pytestmark = pytest.mark.slow  # hypothesis sweeps of every route: about 2 minutes
SWEEP = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


def judge(answer, names, took: float | None = None, named: bool = True) -> None:
    """No 5xx (the database and the broker are up); an answer in under 2 s when ``took`` is given;
    a 400 names one of ``names`` (``named``: it must be a JSON error; else only when it is one)."""
    assert answer.status_code < 500, answer.get_data(as_text=True)[:500]
    if took is not None:
        assert took < 2.0, took
    if answer.status_code != 400 or not (named or (answer.is_json and "error" in (answer.json or {}))):
        return
    error = answer.get_json()["error"]
    assert error.startswith(tuple(f"{name}:" for name in names)), error


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
    "/api/failed-operations": ["range", "start", "end", "age", "crm_source", "sync_type", "operation_type", "state",
                               "limit"],
    "/api/audit": ["limit"],
    "/api/alerts": ["state", "severity", "rule", "range", "start", "end", "age", "limit"],
    "/export/sync-history.csv": ["range", "start", "end", "crm_source", "status", "sync_type", "q", "sort", "filter"],
    "/api/system-health": [],
    "/metrics": [],
    "/readyz": [],
}
TABLES = ["orchestration.sync_history", "orchestration.sync_schedule", "sync_monitor.failed_operations",
          "sync_monitor.operation_attempts", "sync_monitor.alerts", "sync_monitor.alert_notifications",
          "sync_monitor.api_calls", "sync_monitor.circuit_breaker_events"]


def snapshot(engine, tables=TABLES) -> dict:
    """Every row of every table, hashed in the database."""
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                                     f" FROM {t} AS t")).one() for t in tables}


def audit_rows(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM sync_monitor.audit_log")).scalar())


@pytest.fixture
def basic_client(dash_app, use_engine, pg_engine, tmp_path, redis_url):
    """An operator by HTTP Basic on a database holding a few runs; every table is unchanged at the end."""
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


@pytest.mark.parametrize("path", sorted(GET_PARAMS))
def test_query_parameters(basic_client, path):
    names = GET_PARAMS[path]
    for name in [*names, "junk"]:  # every crafted value in every parameter, then random ones
        for value in HOSTILE:
            judge(basic_client.get(path, query_string={name: value}), [name])

    @SWEEP
    @given(st.dictionaries(st.sampled_from([*names, "junk", "limit", "days"]), st.lists(VALUES, min_size=1,
                                                                                          max_size=3)))
    def sweep(args: dict) -> None:
        answer = basic_client.get(path, query_string=[(k, v) for k, vs in args.items() for v in vs])
        judge(answer, list(args))

    sweep()


IDS = st.lists(st.one_of(st.integers(), st.sampled_from([2**63, 2**31, -1, 0, True]), st.text(max_size=5)),
               max_size=5)


def test_bulk_retry_bodies(basic_client, pg_engine):
    @SWEEP
    @given(st.one_of(JSON, st.fixed_dictionaries({"ids": IDS}), st.fixed_dictionaries({"filter": JSON}),
                     st.fixed_dictionaries({"ids": IDS, "filter": JSON})))
    def sweep(body) -> None:
        audits = audit_rows(pg_engine)
        answer = basic_client.post("/api/failed-operations/retry", data=json.dumps(body),
                                   content_type="application/json")
        judge(answer, ["body", "ids", "filter", "range", "start", "end", "age", "state"])
        if answer.status_code == 400:
            assert audit_rows(pg_engine) == audits

    sweep()


def test_path_ids_and_action_bodies(basic_client, pg_engine):
    @SWEEP
    @given(st.one_of(st.integers(), st.sampled_from([2**63, 2**31, 10**30]), st.text(max_size=12)),
           st.sampled_from(["acknowledge", "resolve", "delete"]), JSON)
    def sweep(ident, action, body) -> None:
        for method, path, note in (("GET", f"/api/failed-operations/{ident}", None),
                                   ("POST", f"/api/failed-operations/{ident}/retry", None),
                                   ("POST", f"/api/alerts/{ident}/{action}", {"note": body})):
            audits = audit_rows(pg_engine)
            answer = basic_client.open(path, method=method, json=note)
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


def test_history_grid_filter_and_sort_model(basic_client, dash_app):
    """The grid's own request, posted to its Dash callback as the browser would."""
    assert basic_client.get("/_dash-dependencies").status_code == 200  # Dash registers its callbacks on first use
    @SWEEP
    @given(MODEL_FILTER, SORT_MODEL, st.one_of(st.integers(), JSON), st.one_of(st.integers(), JSON))
    def sweep(filter_model, sort_model, start_row, end_row) -> None:
        request = {"filterModel": filter_model, "sortModel": sort_model, "startRow": start_row, "endRow": end_row}
        answer = basic_client.post("/_dash-update-component", json=grid_request(dash_app, request))
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


def test_alert_page_action_requests(basic_client, dash_app):
    """The alerts page's action (the Store its buttons fill), posted to its Dash callback with crafted
    ids, actions and notes: always a "Not done" message on the page, nothing changed (no alert fires)."""
    assert basic_client.get("/_dash-dependencies").status_code == 200
    signed_in = basic_client.post("/auth/sign-in",
                                  data={"username": "alice", "password": "a-long-password", "next": "/"})
    assert signed_in.status_code in (302, 303)  # the page's callbacks use the session, not Basic

    @SWEEP
    @given(st.one_of(st.integers(), st.sampled_from([2**63, 10**30]), JSON),
           st.one_of(st.sampled_from(["acknowledge", "resolve", "delete"]), JSON), JSON)
    def sweep(ident, action, note) -> None:
        request = {"id": ident, "action": action, "note": note}
        _, (body,) = callback_body(dash_app, "alert-action-result.children",
                                   [{"id": "alert-request", "property": "data", "value": request}], [])
        answer = basic_client.post("/_dash-update-component", json=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
        message = answer.get_json()["response"]["alert-action-result"]["children"]
        assert message.startswith("Not done"), message

    sweep()


def test_sign_in_form_fields(basic_client, pg_engine):
    """The sign-in form with crafted names, passwords and ``next`` values: a redirect back to this
    site, a 400 naming the field, or 429 once the attempts run out; never a 500."""
    from dashapp.auth import sign_in_limit

    basic_client.environ_base.pop("HTTP_AUTHORIZATION")
    try:
        for value in HOSTILE:
            for form in ({"username": value, "password": "x", "next": "/"}, {"username": "alice", "password": value},
                         {"username": "nobody", "password": "y", "next": value}):
                sign_in_limit.LOCAL.clear()
                answer = basic_client.post("/auth/sign-in", data=form)
                judge(answer, list(form))
                if answer.status_code in (302, 303):
                    assert answer.headers["Location"].startswith("/"), answer.headers["Location"]
                    assert not answer.headers["Location"].startswith("//")
    finally:
        sign_in_limit.LOCAL.clear()


POST_ROUTES = ["/auth/sign-in", "/auth/sign-out", "/api/failed-operations/1/retry", "/api/failed-operations/retry",
               "/api/alerts/1/acknowledge", "/api/alerts/1/resolve", "/_dash-update-component"]


def nested(depth: int, leaf: object = 1, kind: str = "list") -> object:
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"and": value}
    return value


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_list_where_a_filter_wants_text(client):
    for model in ({"crm_source": {"type": ["contains"], "filter": "x"}},
                  {"crm_source": {"filterType": "text", "type": "contains", "filter": ["x"]}},
                  {"crm_source": {"operator": ["AND"], "conditions": [{"type": "contains", "filter": "x"}]}},
                  {"crm_source": {"operator": "AND", "conditions": 5}},
                  {"records_processed": {"type": {"a": 1}, "filter": 3}}):
        answer = client.get("/export/sync-history.csv", query_string={"filter": json.dumps(model)})
        assert answer.status_code == 400 and answer.json["error"].startswith("filter:"), answer.get_data()[:200]


def test_a_grid_filter_nested_500_levels(client, dash_app):
    model = {"crm_source": nested(500, {"type": "contains", "filter": "x"}, "dict")}
    model["crm_source"] = {"operator": "AND", "conditions": [model["crm_source"]]}
    answer = client.get("/export/sync-history.csv", query_string={"filter": json.dumps(model)})
    assert answer.status_code == 400 and answer.json["error"].startswith("filter:")
    answer = client.get("/export/sync-history.csv", query_string={"filter": deep_text(9000)})
    assert answer.status_code == 400 and answer.json["error"].startswith("filter:")
    assert client.get("/_dash-dependencies").status_code == 200
    body = grid_body(dash_app, [])
    body["inputs"][0]["value"] = {"startRow": 0, "endRow": 100, "filterModel": model}
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 400 and answer.json["error"].startswith("body: nested deeper")


@pytest.mark.parametrize("path", POST_ROUTES)
def test_a_100000_deep_json_body(client, path):
    started = time.perf_counter()
    answer = client.post(path, data=deep_text(100_000), content_type="application/json", auth=("alice", PASSWORD))
    judge(answer, ("body",), time.perf_counter() - started, named=False)
    assert answer.status_code in (400, 413)


DASH_KEYS = st.fixed_dictionaries({}, optional={
    "output": st.one_of(st.just("history-grid.getRowsResponse"), JSON),
    "outputs": JSON, "inputs": st.one_of(JSON, st.lists(st.fixed_dictionaries(
        {"id": st.one_of(st.text(max_size=20), JSON), "property": JSON, "value": JSON}), max_size=3)),
    "state": JSON, "changedPropIds": st.one_of(JSON, st.lists(st.text(max_size=30), max_size=2))})
BODIES = st.one_of(
    JSON.map(json.dumps),
    DASH_KEYS.map(json.dumps),
    st.fixed_dictionaries({"ids": JSON}).map(json.dumps),
    st.fixed_dictionaries({"filter": JSON}).map(json.dumps),
    st.fixed_dictionaries({"note": JSON}).map(json.dumps),
    st.tuples(st.integers(0, 300), st.sampled_from(["list", "dict"])).map(lambda d: json.dumps(nested(*d))),
    st.sampled_from([0, 1, 60, 70, 2100]).map(lambda kb: json.dumps({"ids": [1], "pad": "x" * (kb * 1024)})),
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)
CONTENT_TYPES = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""])


NAMES = ("body", "ids", "filter", "note", "range", "start", "end", "age", "state", "crm_source", "sync_type",
         "operation_type", "username", "password", "next", "output", "inputs", "outputs", "changedPropIds")


def sweep_route(client, path: str) -> None:
    @settings(SWEEP, max_examples=40)
    @given(BODIES, CONTENT_TYPES)
    def sweep(body: str, content_type: str) -> None:
        started = time.perf_counter()
        answer = client.post(path, data=body.encode("utf-8", "surrogatepass"), content_type=content_type)
        judge(answer, NAMES, time.perf_counter() - started, named=False)

    sweep()


@pytest.mark.parametrize("who", ["anonymous", "operator"])
def test_hostile_bodies_on_every_post_route(client, who):
    assert client.get("/_dash-dependencies").status_code == 200
    for path in POST_ROUTES:
        if who == "operator":  # a session (HTTP Basic would hash a password per request), again after sign-out
            sign_in(client, "alice")
        sweep_route(client, path)


def shaped(item: dict, value: object) -> object:
    """A declared input or state as the renderer sends it, holding ``value``."""
    if item["id"].startswith("{"):  # a pattern-matching id: a list of matching components
        return [{"id": json.loads(item["id"]) | {"index": 0}, "property": item["property"], "value": value}]
    return {"id": item["id"], "property": item["property"], "value": value}


def sweep_callback(client, output: str, spec: dict) -> None:
    inputs, state = spec["inputs"], spec.get("state") or []
    changed = [f"{inputs[0]['id']}.{inputs[0]['property']}"] if inputs else []

    @settings(SWEEP, max_examples=6)
    @given(st.lists(JSON, min_size=len(inputs), max_size=len(inputs)),
           st.lists(JSON, min_size=len(state), max_size=len(state)))
    def sweep(input_values: list, state_values: list) -> None:
        body = {"output": output, "outputs": [], "changedPropIds": changed,
                "inputs": [shaped(i, v) for i, v in zip(inputs, input_values, strict=True)],
                "state": [shaped(i, v) for i, v in zip(state, state_values, strict=True)]}
        started = time.perf_counter()
        answer = client.post("/_dash-update-component", json=body)
        assert answer.status_code < 500, (output, answer.get_data(as_text=True)[:300])
        assert time.perf_counter() - started < 2.0

    sweep()


def test_every_dash_callback_with_hostile_values(client, dash_app):
    """Each callback of the app, requested in its declared shape with values of any type: it
    answers (200/204) or refuses (4xx), never a 500."""
    assert client.get("/_dash-dependencies").status_code == 200
    sign_in(client, "alice")
    for output, spec in sorted(dash_app.callback_map.items()):  # Dash's own page router included
        sweep_callback(client, output, spec)
