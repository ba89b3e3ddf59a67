"""The overview's health strip in headless Chromium: a service down turns red within a refresh
while the rest of the page keeps its numbers; back up, it turns green without a restart."""

from __future__ import annotations

import pytest

from queries.clock import utc_now
from tests.conftest import closed_port
from tests.support.rows import edge_case_runs, expected_overview, insert_runs
from tests.web.test_overview_browser import cards_show

pytestmark = pytest.mark.usefixtures("browser_ready")


def test_the_strip_shows_redis_down_then_up(dash_duo, dash_app, use_engine, pg_engine, redis_url):
    down = f"redis://127.0.0.1:{closed_port()}/0"
    use_engine(pg_engine, REDIS_URL=down, HEALTH_CACHE_SECONDS="0", HEALTH_REFRESH_SECONDS="2")
    runs = insert_runs(pg_engine, edge_case_runs(), utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text("#health-pill-redis", "Redis: down", timeout=15)
    assert "bg-danger" in dash_duo.find_element("#health-pill-redis").get_attribute("class")
    assert "Redis:" in dash_duo.find_element("#health-strip-errors").text
    dash_duo.wait_for_contains_text("#health-pill-database", "Database:", timeout=5)
    assert "bg-success" in dash_duo.find_element("#health-pill-database").get_attribute("class")
    cards_show(dash_duo, expected_overview(runs))  # the numbers load regardless

    use_engine(pg_engine, REDIS_URL=redis_url, HEALTH_CACHE_SECONDS="0", HEALTH_REFRESH_SECONDS="2")
    dash_duo.wait_for_contains_text("#health-pill-redis", " MB", timeout=15)
    assert "bg-success" in dash_duo.find_element("#health-pill-redis").get_attribute("class")
    assert dash_duo.get_logs() == []
