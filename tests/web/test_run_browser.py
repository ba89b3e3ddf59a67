"""The run page in headless Chromium against PostgreSQL: a click on a failed run in the history
lands on its page, which shows its error and its 429s and survives a reload; ``/history?id=N``
keeps its URL; an overview card opens the history whose count is the card's number."""

from __future__ import annotations

from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By

from dashapp import display
from dashapp.recording import crm_calls as api_calls
from dashapp.recording.circuit_breaker import CircuitBreaker
from dashapp.recording.recorder import record_sync
from queries.clock import utc_now
from tests.conftest import call_writer
from tests.support.rows import Run, insert_runs
from tests.web.test_history_browser import cell, wait_for

pytestmark = pytest.mark.usefixtures("browser_ready")
ERROR = "HTTPError: 429 Client Error: Too Many Requests for url: https://api.hubapi.com/crm/v3/objects/contacts"


@pytest.fixture
def writer(pg_engine):
    yield from call_writer(pg_engine)


def _failed_run_with_429s(engine, writer) -> int:
    breaker = CircuitBreaker("hubspot-contacts", "hubspot", failure_threshold=2, reset_timeout=600)
    with pytest.raises(ConnectionError), record_sync("hubspot", "contacts", db=engine) as run:
        api_calls.record_api_call("hubspot", "/crm/v3/objects/contacts", "GET", 200, 120.0,
                                  headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "12"})
        run.add(processed=100)
        for _ in range(2):
            with pytest.raises(ConnectionError), breaker:
                api_calls.record_api_call("hubspot", "/crm/v3/objects/contacts", "GET", 429, 80.0,
                                          headers={"Retry-After": "30"}, error="HTTP 429")
                raise ConnectionError(ERROR)
        raise ConnectionError(ERROR)
    writer.flush()
    return int(run.id)


def _shows_the_run(dash_duo, run_id: int) -> None:
    dash_duo.wait_for_contains_text("#run-title", f"Run #{run_id}", timeout=15)
    dash_duo.wait_for_contains_text("#run-error", ERROR, timeout=10)
    assert dash_duo.find_element("#run-status").text == "failed"
    assert dash_duo.find_element("#run-calls-429").text == "429 2"
    table = dash_duo.find_element("#run-calls-table").text
    assert table.count("429") >= 2 and "HTTP 429" in table
    assert "CLOSED → OPEN" in dash_duo.find_element("#run-breaker-events").text


def test_a_click_in_the_history_opens_the_run_page_which_survives_a_reload(dash_duo, dash_app, use_engine,
                                                                            pg_engine, writer):
    use_engine(pg_engine)
    insert_runs(pg_engine, [Run("hubspot", "contacts", "success", timedelta(hours=h + 1), timedelta(hours=h),
                                processed=900 + h) for h in range(3)], utc_now())
    run_id = _failed_run_with_429s(pg_engine, writer)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?range=all&status=failed")
    dash_duo.wait_for_text_to_equal("#history-count", "1 matching run", timeout=15)
    wait_for(lambda: cell(dash_duo, 0, "crm_source").click() or True)
    wait_for(lambda: dash_duo.driver.current_url.endswith(f"/runs/{run_id}"))
    _shows_the_run(dash_duo, run_id)
    assert "3 runs" not in dash_duo.find_element("#run-what-changed").text  # the last success is the newest
    dash_duo.driver.refresh()
    _shows_the_run(dash_duo, run_id)

    # the quick-look panel keeps its id in the URL, so a reload (or a colleague) opens it again
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?range=all&id={run_id}")
    dash_duo.wait_for_contains_text("#history-detail-error", ERROR, timeout=15)
    dash_duo.wait_for_text_to_equal("#history-count", "4 matching runs", timeout=15)
    wait_for(lambda: f"id={run_id}" in dash_duo.driver.current_url)
    dash_duo.driver.refresh()
    dash_duo.wait_for_contains_text("#history-detail-error", ERROR, timeout=15)
    dash_duo.find_element("#history-detail-run-link").click()
    _shows_the_run(dash_duo, run_id)
    assert dash_duo.get_logs() == []


def test_a_card_opens_the_history_whose_count_is_its_number(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    day = timedelta(hours=24)
    runs = insert_runs(pg_engine, [
        Run("genius", "jobs", "failed", day + timedelta(hours=2), day - timedelta(hours=1), error="x"),  # began earlier
        Run("genius", "jobs", "failed", timedelta(hours=3), timedelta(hours=2), error="y"),
        Run("five9", "calls", "failed", timedelta(hours=5), timedelta(hours=4), error="z"),
        Run("five9", "calls", "failed", day + timedelta(hours=3), day + timedelta(hours=2), error="old"),
        Run("five9", "calls", "success", timedelta(hours=2), timedelta(hours=1)),
        Run("five9", "calls", "success", day + timedelta(hours=1), day - timedelta(minutes=30)),
        Run("arrivy", "tasks", "running", timedelta(minutes=5), None),
    ], utc_now())
    ended = [r for r in runs if r.end_ago is not None and r.end_ago < day]
    expected = {"failed": sum(r.status == "failed" for r in ended),
                "completed": sum(r.status == "success" for r in ended),
                "active": sum(r.status == "running" for r in runs)}
    dash_duo.start_server(dash_app)
    for key, count in expected.items():
        dash_duo.wait_for_page(dash_duo.server_url + "/")
        dash_duo.wait_for_text_to_equal(f"#stat-{key}", f"{count:,}", timeout=15)
        dash_duo.driver.find_element(By.ID, f"stat-{key}-link").click()
        dash_duo.wait_for_text_to_equal("#history-count", display.plural(count, "matching run"), timeout=15)
    assert expected == {"failed": 3, "completed": 2, "active": 1}
    assert dash_duo.get_logs() == []
