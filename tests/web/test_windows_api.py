"""``range`` (24h, 7d, 30d, 90d, all) or ``start``/``end`` on the performance, errors and CRM API
usage routes, from runs, calls and breaker transitions the test wrote inside and outside each
window; the deprecated ``days`` and ``hours`` answer as their range does; a bad range is a 400."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from dashapp.recording import crm_calls as api_calls
from queries.clock import utc_now
from tests.conftest import call_writer
from tests.support.rows import Run, insert_runs

# ages of the rows: each range holds those younger than its span (all: every one)
AGES = (timedelta(hours=2), timedelta(hours=12), timedelta(days=3), timedelta(days=6), timedelta(days=20),
        timedelta(days=60), timedelta(days=200))
SPANS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90),
         "all": None}
CUSTOM = (timedelta(days=10), timedelta(days=2))  # start and end, ago: the rows 3 and 6 days old
LEGACY = {"performance-charts": ("days", {"7d": "7", "30d": "30", "90d": "90"}),
          "errors": ("days", {"7d": "7", "30d": "30"}),
          "api-stats": ("hours", {"24h": "24", "7d": "168"}),
          "rate-limits": ("hours", {"24h": "24"}),
          "circuit-breakers": ("hours", {"24h": "24", "7d": "168"})}


def expected(span: timedelta | None) -> int:
    return sum(1 for age in AGES if span is None or age <= span)


@pytest.fixture
def client(dash_app, use_engine, db):
    for writer in call_writer(db, flush_seconds=0.05):
        now = utc_now()
        insert_runs(db, [Run("hubspot", "contacts", "failed", age, age - timedelta(minutes=1), 10,
                             error="HTTPError: 500 Server Error") for age in AGES], now)
        for n, age in enumerate(AGES):
            api_calls.record_api_call("hubspot", "/contacts", "GET", 429, 10.0, called_at=now - age,
                                      headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0"})
            states = ("CLOSED", "OPEN") if n % 2 == 0 else ("OPEN", "CLOSED")
            api_calls.record_transition("hubspot-contacts", "hubspot", *states, 5, "test", at=now - age)
        writer.flush()
        use_engine(db)
        yield dash_app.server.test_client(), now


def counted(route: str, body: dict) -> int:
    """The runs, calls or transitions an answer of ``route`` counts."""
    if route == "performance-charts":
        return sum(body["sync_frequency"]["data"])
    if route == "errors":
        return sum(c["count"] for c in body["error_classes"])
    if route == "api-stats":
        return sum(e["calls"] for e in body["endpoints"])
    if route == "rate-limits":
        return sum(x["throttled"] for x in body["limits"])
    return sum(len(b["transitions"]) for b in body["breakers"])


ROUTES = tuple(LEGACY)


@pytest.mark.parametrize("route", ROUTES)
def test_each_range_counts_the_rows_inside_it(client, route):
    http, now = client
    for name, span in SPANS.items():
        body = http.get(f"/api/{route}?range={name}").get_json()
        assert counted(route, body) == expected(span), (route, name)
        assert body["range"] == name
        began = datetime.fromisoformat(body["start"].replace("Z", "+00:00"))
        if span is None:  # from the first row's day
            assert began == datetime.combine((now - AGES[-1]).date(), time(), UTC)
        else:
            assert abs(began - (now - span)) < timedelta(seconds=30)
    start, end = (now - ago for ago in CUSTOM)
    body = http.get(f"/api/{route}", query_string={"start": start.isoformat(), "end": end.isoformat()}).get_json()
    assert counted(route, body) == 2 and body["range"] == "custom"
    assert body["end"] == f"{end:%Y-%m-%dT%H:%M:%S}Z"


@pytest.mark.parametrize("route", ROUTES)
def test_the_deprecated_days_and_hours_answer_as_their_range(client, route):
    http, _ = client
    name, values = LEGACY[route]
    for chosen, value in values.items():
        old = http.get(f"/api/{route}?{name}={value}").get_json()
        new = http.get(f"/api/{route}?range={chosen}").get_json()
        assert counted(route, old) == counted(route, new) == expected(SPANS[chosen]), (route, name, value)
        assert old["range"] == new["range"] == chosen


@pytest.mark.parametrize("route", ROUTES)
def test_a_bad_window_is_a_400_naming_it(client, route):
    http, now = client
    for query, named in (("range=1y", "range"), ("start=yesterday", "start"),
                         (f"start={now.isoformat()}&end={(now - timedelta(days=1)).isoformat()}", "end")):
        response = http.get(f"/api/{route}?{query.replace('+', '%2B')}")
        assert response.status_code == 400, (route, query)
        assert response.get_json()["error"].startswith(f"{named}:"), response.get_json()
