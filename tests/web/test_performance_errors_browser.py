"""The performance and errors pages in headless Chromium against PostgreSQL rows the test wrote."""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd
import pytest
from selenium.common.exceptions import StaleElementReferenceException

from queries.clock import utc_now
from tests.support.rows import Run, history_runs, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")


def test_performance_charts_render_and_an_empty_period_explains_itself(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/performance")
    dash_duo.wait_for_contains_text("#records-by-crm-chart", "Records processed by CRM", timeout=15)
    busiest = max({r.crm_source for r in runs}, key=lambda c: sum(r.processed or 0 for r in runs
                                                                  if r.crm_source == c and r.start_ago.days < 7))
    names = {"hubspot": "HubSpot", "genius": "Genius", "callrail": "CallRail"}
    dash_duo.wait_for_contains_text("#records-by-crm-chart", names[busiest], timeout=10)
    for chart in ("#duration-chart", "#success-rate-chart", "#sync-frequency-chart", "#throughput-chart"):
        assert dash_duo.find_element(f"{chart} .main-svg")
    # no rollups here (no db upgrade built them): the page says what an upgrade gives
    dash_duo.wait_for_contains_text("#performance-source-note", "db upgrade", timeout=5)
    assert dash_duo.get_logs() == []


def test_an_empty_period_says_so(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    insert_runs(pg_engine, [Run("hubspot", "contacts", "success", timedelta(days=20), timedelta(days=19, hours=23))],
                utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/performance")
    dash_duo.wait_for_contains_text("#duration-chart", "No finished runs from", timeout=15)
    dash_duo.wait_for_contains_text("#records-by-crm-chart", "No runs from", timeout=5)
    assert dash_duo.get_logs() == []


def test_an_error_class_opens_the_history_filtered_to_it(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine, DISPLAY_TIMEZONE="Asia/Tokyo")
    written_at = utc_now()
    runs = insert_runs(pg_engine, history_runs(), written_at)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/errors")
    dash_duo.wait_for_element(".error-class-link", timeout=15)
    newest = dash_app.server.test_client().get("/api/errors?days=7").get_json()["recent_failures"][0]
    in_tokyo = pd.Timestamp(newest["start_time"]).tz_convert("Asia/Tokyo")
    dash_duo.wait_for_contains_text("#recent-failures", f"{in_tokyo:%Y-%m-%d %H:%M:%S} JST", timeout=10)  # viewer's
    in_week = [r for r in runs if r.status == "failed" and r.error and "429" in r.error
               and r.start_ago <= timedelta(days=7)]  # default: the past 7 days
    for _ in range(5):  # the table is drawn again at each refresh (2 s here): find the link afresh if it was
        try:
            next(a for a in dash_duo.find_elements(".error-class-link") if "Too Many Requests" in a.text).click()
            break
        except StaleElementReferenceException:
            time.sleep(0.2)
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(in_week):,} matching runs", timeout=15)
    assert "status=failed" in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []
