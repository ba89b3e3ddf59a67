"""The API usage page and its JSON: an instrumented client calling a local server shows up with
its counts, percentiles, quota and a ticking reset countdown; a breaker forced open shows red."""

from __future__ import annotations

import numpy
import pandas as pd
import pytest
from selenium.common.exceptions import StaleElementReferenceException

from dashapp.recording import crm_calls as api_calls
from dashapp.recording.circuit_breaker import OPEN, CircuitBreaker, CircuitOpenError
from dashapp.storage.app_tables import api_calls as calls_table
from tests.conftest import call_writer
from tests.recording.test_crm_calls import crm_server  # noqa: F401  (the local CRM server fixture)
from tests.support.browser_steps import wait_for


@pytest.fixture
def recorded_pg(pg_engine):
    for writer in call_writer(pg_engine, flush_seconds=0.05):
        yield pg_engine, writer


def drive(crm_server: str, writer) -> dict:  # noqa: F811
    """Five good calls, two 429s, and a breaker forced open by three failures."""
    session = api_calls.instrumented_session("callrail")
    for _ in range(5):
        session.get(f"{crm_server}/calls.json")
    for _ in range(2):
        session.get(f"{crm_server}/limited")
    breaker = CircuitBreaker("callrail-calls", "callrail", failure_threshold=3, reset_timeout=600)

    def fail():
        raise ConnectionError("refused")

    for _ in range(3):
        with pytest.raises(ConnectionError):
            breaker.call(fail)
    with pytest.raises(CircuitOpenError):
        breaker.call(fail)
    assert breaker.state == OPEN
    writer.flush()
    return {"breaker": breaker}


def test_the_json_routes(dash_app, use_engine, recorded_pg, crm_server):  # noqa: F811
    engine, writer = recorded_pg
    drive(crm_server, writer)
    use_engine(engine)
    client = dash_app.server.test_client()
    stats = client.get("/api/api-stats?hours=1").get_json()
    by_endpoint = {e["endpoint"]: e for e in stats["endpoints"]}
    assert by_endpoint["/calls.json"]["calls"] == 5 and by_endpoint["/calls.json"]["successes"] == 5
    assert by_endpoint["/limited"]["client_errors"] == 2 and by_endpoint["/limited"]["error_rate"] == 100.0
    with engine.connect() as conn:
        latencies = [r[0] for r in conn.execute(calls_table.select().with_only_columns(calls_table.c.duration_ms)
                                                .where(calls_table.c.endpoint == "/calls.json"))]
    assert by_endpoint["/calls.json"]["p95_ms"] == pytest.approx(numpy.percentile(latencies, 95), abs=0.001)
    limits = {x["endpoint"]: x for x in client.get("/api/rate-limits?hours=1").get_json()["limits"]}
    assert limits["/calls.json"]["remaining"] == 37 and limits["/calls.json"]["percent_used"] == 63.0
    assert limits["/limited"]["remaining"] == 0 and limits["/limited"]["level"] == "critical"
    assert limits["/limited"]["throttled"] == 2
    history = client.get("/api/rate-limits?hours=1").get_json()["history"]
    assert {(h["endpoint"], h["remaining"]) for h in history} >= {("/calls.json", 37), ("/limited", 0)}
    day = client.get("/api/rate-limits?hours=24").get_json()["history"]  # from the per-minute rollup
    assert {(h["endpoint"], h["remaining"]) for h in day} >= {("/calls.json", 37), ("/limited", 0)}
    breakers = client.get("/api/circuit-breakers?hours=1").get_json()["breakers"]
    assert [(b["breaker"], b["state"], b["failure_count"]) for b in breakers] == [("callrail-calls", "OPEN", 3)]
    assert client.get("/api/api-stats?hours=0").status_code == 400


def test_the_page_shows_calls_quota_countdown_and_an_open_breaker(dash_duo, dash_app, use_engine, recorded_pg,
                                                                  crm_server, browser_ready):  # noqa: F811
    engine, writer = recorded_pg
    use_engine(engine, DISPLAY_TIMEZONE="America/Los_Angeles")
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/api-usage")
    dash_duo.wait_for_contains_text("#rate-limit-tiles", "No rate-limit headers", timeout=15)
    drive(crm_server, writer)
    dash_duo.find_element("#api-usage-refresh-button").click()  # within one refresh
    dash_duo.wait_for_contains_text("#rate-limit-tiles", "37 of 100 left", timeout=15)
    # a periodic refresh may land while drive() still calls: wait for the one after its last call
    dash_duo.wait_for_contains_text("#rate-limit-tiles", "2 × 429 in the past 24 hours", timeout=15)
    countdown = dash_duo.find_element("#rate-limit-tiles").text
    first = [line for line in countdown.splitlines() if "resets in" in line]
    assert first, countdown
    def countdown_now() -> list[str]:
        try:
            return [line for line in dash_duo.find_element("#rate-limit-tiles").text.splitlines()
                    if "resets in" in line]
        except StaleElementReferenceException:  # re-rendered while read
            return first

    wait_for(lambda: countdown_now() != first, timeout=5, what="the countdown ticks in the browser")
    dash_duo.wait_for_contains_text("#breaker-tiles", "callrail-calls", timeout=5)
    def badge_open() -> bool:  # the tiles re-render on each refresh: read the badge afresh until it holds
        try:
            badge = dash_duo.find_element("#breaker-tiles .breaker-state")
            return badge.text == "OPEN" and "bg-danger" in badge.get_attribute("class")
        except StaleElementReferenceException:
            return False

    wait_for(badge_open, timeout=5, what="the breaker's red OPEN badge")
    dash_duo.wait_for_contains_text("#api-stats-grid", "/calls.json", timeout=5)
    client = dash_app.server.test_client()
    breaker = client.get("/api/circuit-breakers?hours=24").get_json()["breakers"][0]
    here = pd.Timestamp(breaker["last_transition"]).tz_convert("America/Los_Angeles")
    dash_duo.wait_for_contains_text("#breaker-callrail-calls", f"last: {here:%Y-%m-%d %H:%M %Z}", timeout=5)
    endpoint = next(e for e in client.get("/api/api-stats?hours=24").get_json()["endpoints"]
                    if e["endpoint"] == "/calls.json")
    shown = dash_duo.driver.execute_script("""  // the cell as the grid formats it (it may be scrolled out of view)
        const api = window.dash_ag_grid.getApi("api-stats-grid");
        let text = null;
        api.forEachNode(node => { if (node.data.endpoint === "/calls.json") {
            text = api.getCellValue({rowNode: node, colKey: "p95_ms", useFormatter: true}); } });
        return text;""")
    assert shown == f"{endpoint['p95_ms']:,.0f}"  # whole milliseconds
    assert dash_duo.get_logs() == []
