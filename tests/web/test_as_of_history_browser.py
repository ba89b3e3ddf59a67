"""Pages as of a past moment in headless Chromium against PostgreSQL: the history shows a run that
ended later as running, keeps ``at`` in its URL while its filters change and in the run it opens;
the run page shows the run as it was then, says so and offers no retry."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from dashapp.display import iso_utc
from queries.clock import utc_now
from tests.support.rows import Run, insert_runs
from tests.web.test_history_browser import cell, wait_for

pytestmark = pytest.mark.usefixtures("browser_ready")
H = timedelta(hours=1)


def _at_of(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("at", [])


def test_history_and_run_as_of_a_moment(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    now = utc_now().replace(microsecond=0)
    runs = insert_runs(pg_engine, [
        Run("hubspot", "contacts", "failed", 6 * H, 2 * H, error="boom later"),  # running at the moment
        Run("hubspot", "contacts", "success", 10 * H, 9 * H),
        Run("hubspot", "deals", "success", 3 * H, 2 * H),  # not started then
    ], now)
    at = iso_utc(now - 5 * H)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?range=all&at={quote(at)}")
    dash_duo.wait_for_text_to_equal("#history-count", "2 matching runs", timeout=15)
    assert "As of" in dash_duo.find_element("#history-as-of-note").text
    wait_for(lambda: cell(dash_duo, 0, "status").text == "running")
    dash_duo.select_dcc_dropdown("#history-status", value="running")
    wait_for(lambda: "status=running" in dash_duo.driver.current_url)
    assert _at_of(dash_duo.driver.current_url) == [at]
    dash_duo.wait_for_text_to_equal("#history-count", "1 matching run", timeout=15)
    wait_for(lambda: cell(dash_duo, 0, "crm_source").click() or True)
    wait_for(lambda: f"/runs/{runs[0].id}" in dash_duo.driver.current_url)
    assert _at_of(dash_duo.driver.current_url) == [at]
    dash_duo.wait_for_contains_text("#run-title", f"Run #{runs[0].id}", timeout=15)
    assert dash_duo.find_element("#run-status").text == "running"
    assert "As of" in dash_duo.find_element("#run-as-of-note").text
    assert "boom later" not in dash_duo.find_element("#run-body").text
    assert not dash_duo.find_element("#run-retry-area").is_displayed()
