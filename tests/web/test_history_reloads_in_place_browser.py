"""The history reloads its rows in place like the other pages, keeping the run a link opened."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queries.clock import utc_now
from tests.support.rows import Run, history_runs, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")


def test_the_history_reloads_in_place_keeping_the_open_run(dash_duo, dash_app, use_engine, pg_engine):
    """A row click opens the run's page; the quick look a link opens (?id=N) stays open while the
    rows reload in place beneath it."""
    use_engine(pg_engine)  # REFRESH_SECONDS=2 in tests
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    this_week = [r for r in runs if r.start_ago < timedelta(days=7)]
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?id={this_week[1].id}")
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(this_week):,} matching runs", timeout=15)
    dash_duo.wait_for_element("#history-detail-run-link", timeout=10)
    insert_runs(pg_engine, [Run("hubspot", "contacts", "success", timedelta(seconds=5), timedelta(seconds=1))],
                utc_now())
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(this_week) + 1:,} matching runs", timeout=15)
    assert dash_duo.find_element("#history-detail-run-link").get_attribute("href").endswith(f"/runs/{this_week[1].id}")
    assert f"id={this_week[1].id}" in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []
