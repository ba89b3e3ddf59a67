"""The overview in headless Chromium (dash_duo) against real PostgreSQL rows the test wrote."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from dashapp.db import postgres_engine
from dashapp.recorder import record_sync
from queries._sql import utc_now
from tests.rows import M, Run, edge_case_runs, expected_overview, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")


def cards_show(dash_duo, expected: dict) -> None:
    dash_duo.wait_for_text_to_equal("#stat-active", f"{expected['active_syncs']:,}", timeout=15)
    dash_duo.wait_for_text_to_equal("#stat-completed", f"{expected['completed_today']:,}")
    dash_duo.wait_for_text_to_equal("#stat-failed", f"{expected['failed_today']:,}")
    dash_duo.wait_for_text_to_equal("#stat-partial", f"{expected['partial_today']:,}")
    dash_duo.wait_for_text_to_equal("#stat-success-rate", f"{expected['success_rate']:.2f}%")


def grid_text(dash_duo) -> str:
    return dash_duo.find_element("#crm-status-grid").text


def test_overview_shows_the_written_rows_and_a_new_run_after_refresh(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, edge_case_runs(), utc_now())
    dash_duo.start_server(dash_app)
    cards_show(dash_duo, expected_overview(runs))
    dash_duo.wait_for_contains_text("#crm-status-grid", "New Crm", timeout=10)
    text = grid_text(dash_duo)
    assert "HubSpot" in text and "Five9" in text and "queued" in text and "running" in text
    assert "SalesRabbit" not in text

    with record_sync("salesrabbit", "leads", db=pg_engine) as run:
        run.add(processed=1234, created=34, updated=1200)
    dash_duo.find_element("#overview-refresh-button").click()
    dash_duo.wait_for_contains_text("#crm-status-grid", "SalesRabbit", timeout=10)
    dash_duo.wait_for_contains_text("#crm-status-grid", "1,234", timeout=10)
    cards_show(dash_duo, expected_overview([*runs, Run("salesrabbit", "leads", "success", M, M)]))
    dash_duo.wait_for_contains_text("#overview-refresh-text", "next in", timeout=5)
    assert dash_duo.get_logs() == []


def test_interval_refresh_picks_up_a_new_run_by_itself(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)  # REFRESH_SECONDS=2 in the tests' settings
    insert_runs(pg_engine, edge_case_runs()[:3], utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text("#crm-status-grid", "HubSpot", timeout=15)
    with record_sync("arrivy", "tasks", db=pg_engine):
        dash_duo.wait_for_contains_text("#crm-status-grid", "Arrivy", timeout=10)
        dash_duo.wait_for_text_to_equal("#stat-active", "1", timeout=10)
    assert dash_duo.get_logs() == []


def test_a_failed_refresh_keeps_the_numbers_and_shows_a_banner(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, edge_case_runs(), utc_now())
    dash_duo.start_server(dash_app)
    expected = expected_overview(runs)
    cards_show(dash_duo, expected)
    use_engine(postgres_engine("postgresql://postgres@127.0.0.1:1/down", "orchestration",
                               connect_args={"connect_timeout": 2}))
    dash_duo.find_element("#overview-refresh-button").click()
    dash_duo.wait_for_contains_text("#overview-error-banner", "Refresh failed", timeout=15)
    assert "showing the numbers from" in dash_duo.find_element("#overview-error-banner").text
    cards_show(dash_duo, expected)  # the last good numbers stay
    use_engine(pg_engine)
    dash_duo.find_element("#overview-refresh-button").click()
    dash_duo.wait_for_no_elements("#overview-error-banner.show", timeout=10)
    assert dash_duo.get_logs() == []


def test_the_overview_fits_a_390_px_phone(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    insert_runs(pg_engine, edge_case_runs(), utc_now())
    dash_duo.driver.set_window_size(390, 844)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text("#crm-status-grid", "HubSpot", timeout=15)
    overflow = dash_duo.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    assert dash_duo.driver.find_element(By.ID, "stat-success-rate").is_displayed()
    assert dash_duo.get_logs() == []


def test_recent_activity_links_each_run_to_its_page(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, edge_case_runs(), utc_now())
    newest = min(runs, key=lambda r: r.start_ago)
    failed = next(r for r in sorted(runs, key=lambda r: r.start_ago) if r.status == "failed")
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text("#recent-activity-grid", f"#{newest.id}", timeout=15)
    assert len(dash_duo.find_elements("#recent-activity-grid .run-link")) == min(20, len(runs))
    link = dash_duo.find_element(f'#recent-activity-grid a[href="/runs/{failed.id}"]')
    dash_duo.driver.execute_script("arguments[0].click()", link)  # the grid's scrollbar may overlap it
    dash_duo.wait_for_contains_text("#run-error", failed.error, timeout=15)
    assert dash_duo.get_logs() == []
