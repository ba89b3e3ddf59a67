"""As of a moment in headless Chromium: the overview opened at ``/?at=T`` on rows the test wrote
shows the banner and T's numbers, a navbar link keeps T, and Live comes back to the present's
numbers; the console stays clean."""

from __future__ import annotations

import pytest
from selenium.webdriver.support.wait import WebDriverWait

from dashapp.display import iso_utc
from dashapp.web.components.time_control import local_value
from queries.clock import utc_now
from queries.outcomes import status_class
from tests.web.test_as_of_overview import BACK, expected_counts, write_runs

pytestmark = pytest.mark.usefixtures("browser_ready")


def test_the_overview_as_of_a_moment_and_back_to_live(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    now = utc_now()
    at = (now - BACK).replace(microsecond=0)
    runs = write_runs(pg_engine, now)
    expected = expected_counts(runs, now, at)
    live_active = sum(1 for r in runs.values() if status_class(r.status) == "running")
    assert expected["active_syncs"] != live_active or expected["failed_today"] != 0

    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/?at={iso_utc(at)}")
    dash_duo.wait_for_contains_text("#as-of-banner-text", f"As of {at:%Y-%m-%d %H:%M}", timeout=15)
    dash_duo.wait_for_text_to_equal("#stat-active", f"{expected['active_syncs']:,}", timeout=15)
    dash_duo.wait_for_text_to_equal("#stat-failed", f"{expected['failed_today']:,}")
    dash_duo.wait_for_text_to_equal("#stat-completed", f"{expected['completed_today']:,}")
    dash_duo.wait_for_contains_text("#crm-status-note", "assumed", timeout=10)

    # a navbar link keeps the moment
    dash_duo.find_element('a.nav-link[href*="/alerts"]').click()
    dash_duo.wait_for_element("#alerts-refresh-text", timeout=15)
    assert f"at={iso_utc(at)}" in dash_duo.driver.current_url.replace("%3A", ":")
    dash_duo.wait_for_contains_text("#as-of-banner-text", f"As of {at:%Y-%m-%d %H:%M}", timeout=15)

    # Live: the same page now, no banner; the overview's numbers are the present's
    dash_duo.wait_for_contains_text("#as-of-toggle", "As of", timeout=10)
    dash_duo.find_element("#as-of-toggle").click()
    dash_duo.wait_for_element("#as-of-live", timeout=5).click()
    dash_duo.wait_for_element("#alerts-refresh-text", timeout=15)
    WebDriverWait(dash_duo.driver, 15).until(lambda driver: "at=" not in driver.current_url)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/")
    dash_duo.wait_for_text_to_equal("#stat-active", f"{live_active:,}", timeout=15)
    dash_duo.wait_for_text_to_equal("#stat-failed", f"{expected_counts(runs, now, utc_now())['failed_today']:,}")
    assert all(not e.is_displayed() for e in dash_duo.find_elements("#as-of-banner"))
    dash_duo.wait_for_text_to_equal("#as-of-toggle", "Live", timeout=10)

    # the control: a moment typed in the viewer's zone, Go: the same page as of it
    zone = dash_duo.driver.execute_script("return window.syncMonitor.zone() || 'UTC'")
    dash_duo.find_element("#as-of-toggle").click()
    field = dash_duo.wait_for_element("#as-of-input", timeout=5)
    dash_duo.driver.execute_script(
        "var setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;"
        "setter.call(arguments[0], arguments[1]);"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", field, local_value(at, zone))
    dash_duo.find_element("#as-of-go").click()
    WebDriverWait(dash_duo.driver, 15).until(lambda driver: "at=" in driver.current_url)
    dash_duo.wait_for_contains_text("#as-of-banner-text", f"As of {at:%Y-%m-%d %H:%M}", timeout=15)
    dash_duo.wait_for_text_to_equal("#stat-active", f"{expected['active_syncs']:,}", timeout=15)
    assert dash_duo.get_logs() == []


def test_a_bad_at_shows_the_page_live_and_says_why(dash_duo, dash_app, use_engine, pg_engine):
    """An ``at`` the server refuses (here in the future): the banner says why and that it shows now,
    and the page does: the present's numbers, relative times counted from now, a clean console."""
    use_engine(pg_engine)
    now = utc_now()
    runs = write_runs(pg_engine, now)
    live_active = sum(1 for r in runs.values() if status_class(r.status) == "running")
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/?at=2999-01-01T00:00:00Z")
    dash_duo.wait_for_contains_text("#as-of-banner-text", "Cannot show the app as of that moment", timeout=15)
    dash_duo.wait_for_contains_text("#as-of-banner-text", "Showing now.", timeout=5)
    dash_duo.wait_for_text_to_equal("#stat-active", f"{live_active:,}", timeout=15)
    dash_duo.wait_for_text_to_equal("#stat-failed", f"{expected_counts(runs, now, utc_now())['failed_today']:,}")
    assert dash_duo.driver.execute_script("return window.syncMonitorNow() <= Date.now()")
    assert dash_duo.get_logs() == []
