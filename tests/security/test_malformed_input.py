"""Item 12 and the body sweep: malformed input is a 4xx naming what was wrong, in milliseconds,
never a 500. The reported repros (a list where a grid filter wants text, a grid filter nested 500
levels, a 100,000-deep JSON body), then a derandomized hypothesis sweep of bodies (size, depth,
types, content types) over every POST route and Dash's callback endpoint."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import PASSWORD, sign_in
from tests.security.test_cpu_limits import grid_body

POST_ROUTES = ["/auth/sign-in", "/auth/sign-out", "/api/failed-operations/1/retry", "/api/failed-operations/retry",
               "/api/alerts/1/acknowledge", "/api/alerts/1/resolve", "/_dash-update-component"]
SWEEP = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def nested(depth: int, leaf: object = 1, kind: str = "list") -> object:
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"and": value}
    return value


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


def judge(answer, names: tuple[str, ...], took: float) -> None:
    assert answer.status_code < 500, answer.get_data(as_text=True)[:300]
    assert took < 2.0, took
    if answer.status_code == 400 and answer.is_json and "error" in (answer.json or {}):
        assert answer.json["error"].startswith(tuple(f"{n}:" for n in names)), answer.json["error"]


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
    judge(answer, ("body",), time.perf_counter() - started)
    assert answer.status_code in (400, 413)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
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


NAMES = ("body", "ids", "filter", "note", "age", "state", "crm_source", "operation_type", "username", "password",
         "next", "output", "inputs", "outputs", "changedPropIds")


def sweep_route(client, path: str) -> None:
    @SWEEP
    @given(BODIES, CONTENT_TYPES)
    def sweep(body: str, content_type: str) -> None:
        started = time.perf_counter()
        answer = client.post(path, data=body.encode("utf-8", "surrogatepass"), content_type=content_type)
        judge(answer, NAMES, time.perf_counter() - started)

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
