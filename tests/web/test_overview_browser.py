"""The overview in headless Chromium (dash_duo) against real PostgreSQL rows the test wrote."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from dashapp import display
from dashapp.recording.recorder import record_sync
from dashapp.storage.db import postgres_engine
from queries.clock import utc_now
from tests.support.rows import M, Run, edge_case_runs, expected_overview, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")


def cards_show(dash_duo, expected: dict) -> None:
    dash_duo.wait_for_text_to_equal("#stat-active", f"{expected['active_syncs']:,}", timeout=15)
    dash_duo.wait_for_text_to_equal("#stat-completed", f"{expected['completed_today']:,}")
    dash_duo.wait_for_text_to_equal("#stat-failed", f"{expected['failed_today']:,}")
    dash_duo.wait_for_text_to_equal("#stat-partial", f"{expected['partial_today']:,}")
    dash_duo.wait_for_text_to_equal("#stat-success-rate", display.percent(expected["success_rate"]))


def grid_text(dash_duo) -> str:
    return dash_duo.find_element("#crm-status-grid").text


def test_overview_shows_the_written_rows_and_a_new_run_after_refresh(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, edge_case_runs(), utc_now())
    dash_duo.start_server(dash_app)
    cards_show(dash_duo, expected_overview(runs))
    dash_duo.wait_for_contains_text("#crm-status-grid", "new_crm", timeout=10)
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


def test_a_crm_groups_its_sync_types_worst_first_and_opens_on_a_click(dash_duo, dash_app, use_engine, deployed_engine):
    """On the deployed tables: HubSpot's contacts failed after its deals succeeded; the collapsed
    row says failed, a click shows each type with its own next sync from beat."""
    from tests.support import deployed_shape

    use_engine(deployed_engine)
    now = utc_now()
    contacts, deals, _ = insert_runs(deployed_engine, [
        Run("hubspot", "contacts", "failed", 20 * M, 19 * M, error="HTTPError: 401"),
        Run("hubspot", "deals", "completed", 5 * M, 4 * M),
        Run("genius", "jobs", "success", 9 * M, 8 * M)], now)
    task = deployed_shape.beat_task(deployed_engine, "deals", every=30, period="minutes", last_run_at=now - 5 * M)
    deployed_shape.schedule(deployed_engine, "hubspot", "deals", periodic_task_id=task)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text("#crm-status-grid", "2 sync types", timeout=15)
    rows = dash_duo.find_elements("#crm-status-grid .ag-center-cols-container .ag-row")
    assert "failed" in rows[0].text and "2 sync types" in rows[0].text  # worst CRM first, its worst state
    collapsed = "#crm-status-grid .ag-center-cols-container [row-id='hubspot']"
    assert dash_duo.find_element(f"{collapsed} [col-id='state_label']").text == "Failing"
    strip = dash_duo.find_elements(f"{collapsed} .run-tick")  # its newest type's runs: deals
    assert [t.get_attribute("data-run-id") for t in strip] == [str(deals.id)]
    dash_duo.find_element("#crm-status-grid .crm-group").click()
    dash_duo.wait_for_contains_text("#crm-status-grid", "contacts", timeout=10)
    opened = "#crm-status-grid .ag-center-cols-container [row-id='hubspot/contacts']"
    assert dash_duo.find_element(f"{opened} [col-id='state_label']").text == "Failing"
    assert [t.get_attribute("data-run-id") for t in dash_duo.find_elements(f"{opened} .run-tick")] == [str(contacts.id)]
    text = grid_text(dash_duo)
    assert "deals" in text and "completed" in text and ("in 24 min" in text or "in 25 min" in text)
    assert "▾HubSpot" in text  # the caret turned: open
    badge = dash_duo.find_element("#crm-status-grid .next-sync[data-source='beat']")
    assert "Celery beat" in badge.get_attribute("title")
    assert dash_duo.get_logs() == []
