"""The timeline in headless Chromium against PostgreSQL: on runs the test wrote, /timeline shows a
lane per CRM and the incident as a span; a click on the span lands on the overview as of the moment
the incident became known (``/?at=``: the second after its first failed run ended), which says so
and counts that run failed; Live comes back to the present's numbers; the console stays clean."""

from __future__ import annotations

from datetime import timedelta

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains

from dashapp.display import iso_utc
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.browser_steps import wait_for
from tests.support.rows import Run, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")
H = timedelta(hours=1)
SECOND = timedelta(seconds=1)  # the overview links to the second after the first failed run ended
M = timedelta(minutes=1)
CHART = "#timeline-lanes-chart"


def test_a_click_on_an_incident_opens_the_overview_as_of_when_it_was_known(dash_duo, dash_app, use_engine, pg_engine):
    empty_app_tables(pg_engine)
    use_engine(pg_engine)
    now = utc_now()
    runs = insert_runs(pg_engine, [
        Run("hubspot", "contacts", "success", 10 * H, 10 * H - M),
        Run("hubspot", "contacts", "failed", 9 * H, 9 * H - M),
        Run("hubspot", "contacts", "failed", 8 * H, 8 * H - M),
        Run("hubspot", "contacts", "success", 3 * H, 3 * H - M),
        Run("callrail", "calls", "success", 8 * H, 8 * H - M),
        Run("callrail", "calls", "success", 2 * H, 2 * H - M),
    ], now)
    failed = runs[1].end(now)  # the first failed run's end: the incident known
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/timeline")

    def texts(selector: str) -> list[str]:
        try:  # a refresh as the page settles (the viewer's zone and theme arrive) may redraw them while read
            return [element.text for element in dash_duo.find_elements(selector)]
        except StaleElementReferenceException:
            return []

    def lanes() -> list[str]:
        return texts(f"{CHART} .ytick text")

    # the lanes of runs come first; the app's own health refresh may add a lane of health changes after them
    wait_for(lambda: lanes()[:2] == ["HubSpot", "CallRail"], timeout=20, what="a lane per CRM, the failing one first")
    spans = f"{CHART} .barlayer .trace:first-child .point path"  # the spans are the figure's first trace
    wait_for(lambda: len(dash_duo.find_elements(spans)) == 1, timeout=10, what="the incident's span")
    wait_for(lambda: "".join(texts("#timeline-event-list")).count("Incident started") == 1, timeout=10,
             what="the incident in the event list")
    assert dash_duo.get_logs() == []

    def click_the_span() -> bool:
        try:
            ActionChains(dash_duo.driver).move_to_element(dash_duo.find_elements(spans)[0]).pause(0.3).click().perform()
        except StaleElementReferenceException:  # redrawn meanwhile: again
            return False
        return True

    wait_for(click_the_span, timeout=10, what="a click on the span")
    at = (failed + SECOND).replace(microsecond=0)
    wait_for(lambda: dash_duo.driver.current_url.endswith(f"/?at={iso_utc(at)}"), timeout=10,
             what="the overview as of the incident known")
    dash_duo.wait_for_contains_text("#as-of-banner-text", f"As of {at:%Y-%m-%d %H:%M}", timeout=15)
    ended_by_then = [run for run in runs if at - 24 * H <= run.end(now) <= at]
    dash_duo.wait_for_text_to_equal("#stat-failed", f"{sum(r.status == 'failed' for r in ended_by_then):,}",
                                    timeout=15)
    assert sum(r.status == "failed" for r in ended_by_then) == 1  # what was failing then: the first failed run
    running_then = sum(1 for run in runs if run.start(now) <= at < run.end(now))
    dash_duo.wait_for_text_to_equal("#stat-active", f"{running_then:,}", timeout=15)
    dash_duo.wait_for_text_to_equal("#stat-completed", f"{sum(r.status == 'success' for r in ended_by_then):,}")

    dash_duo.find_element("#as-of-toggle").click()  # Live: the present
    dash_duo.wait_for_element("#as-of-live", timeout=5).click()
    wait_for(lambda: "at=" not in dash_duo.driver.current_url, timeout=15, what="the address without at")
    dash_duo.wait_for_text_to_equal("#stat-failed", f"{sum(r.status == 'failed' for r in runs):,}", timeout=15)
    dash_duo.wait_for_text_to_equal("#as-of-toggle", "Live", timeout=10)
    assert dash_duo.get_logs() == []
