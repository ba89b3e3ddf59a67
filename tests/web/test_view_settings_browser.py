"""In headless Chromium: the navbar's Theme menu and Local/UTC switch,
both remembered; every page at 390 px and 1440 px, light and dark, without sideways scroll."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from queries.clock import utc_now
from tests.support.browser_steps import wait_for
from tests.support.page_checks import wait_settled
from tests.support.rows import history_runs, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")
PAGES = ("/", "/history", "/performance", "/errors", "/api-usage", "/failed", "/alerts", "/health")



def root_attribute(dash_duo, name: str) -> str | None:
    return dash_duo.driver.execute_script(f"return document.documentElement.getAttribute('{name}')")


def test_dark_mode_is_picked_remembered_and_reaches_grids_and_charts(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    insert_runs(pg_engine, history_runs(), utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(dash_duo.server_url + "/performance")
    wait_for(lambda: root_attribute(dash_duo, "data-bs-theme") == "light")  # headless: the system is light
    dash_duo.wait_for_text_to_equal("#theme-menu button", "Theme: System", timeout=10)
    dash_duo.find_element("#theme-menu button").click()
    dash_duo.wait_for_element("#theme-dark", timeout=5).click()
    wait_for(lambda: root_attribute(dash_duo, "data-bs-theme") == "dark")
    assert root_attribute(dash_duo, "data-ag-theme-mode") == "dark"
    font = "return document.querySelector('#duration-chart .js-plotly-plot')._fullLayout.font.color"
    wait_for(lambda: dash_duo.driver.execute_script(font) == "#dee2e6", timeout=15)
    dash_duo.wait_for_page(dash_duo.server_url + "/history")  # remembered across pages and reloads
    wait_for(lambda: root_attribute(dash_duo, "data-bs-theme") == "dark")
    dash_duo.wait_for_text_to_equal("#theme-menu button", "Theme: Dark", timeout=10)
    background = ("var grid = document.querySelector('#history-grid .ag-root-wrapper');"  # once the grid is drawn
                  "return grid ? getComputedStyle(grid).backgroundColor : ''")
    wait_for(lambda: dash_duo.driver.execute_script(background) not in ("rgb(255, 255, 255)", ""))
    dash_duo.find_element("#theme-menu button").click()
    dash_duo.wait_for_element("#theme-light", timeout=5).click()
    wait_for(lambda: root_attribute(dash_duo, "data-bs-theme") == "light")
    assert dash_duo.get_logs() == []


def test_local_or_utc_is_used_by_the_grid_its_headers_and_the_drawer(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine, DISPLAY_TIMEZONE="America/New_York")  # "local" is New York here
    written_at = utc_now()
    runs = insert_runs(pg_engine, history_runs(), written_at)
    newest = min(runs, key=lambda r: r.start_ago)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(dash_duo.server_url + "/history")
    new_york = ZoneInfo("America/New_York")
    zone_now = utc_now().astimezone(new_york).strftime("%Z")
    dash_duo.wait_for_text_to_equal("#clock-toggle", f"Times: local ({zone_now})", timeout=10)
    header = '#history-grid .ag-header-cell[col-id="start_time"] .ag-header-cell-text'
    dash_duo.wait_for_text_to_equal(header, f"Start ({zone_now})", timeout=10)
    cell = '#history-grid .ag-center-cols-container .ag-row[row-index="0"] [col-id="start_time"]'
    start = newest.start(written_at)  # the time written, not one taken seconds later across a minute
    wait_for(lambda: dash_duo.find_element(cell).text[:16] ==
             start.astimezone(new_york).strftime("%Y-%m-%d %H:%M"), timeout=10)
    dash_duo.find_element("#clock-toggle").click()
    dash_duo.wait_for_text_to_equal("#clock-toggle", "Times: UTC", timeout=5)
    dash_duo.wait_for_text_to_equal(header, "Start (UTC)", timeout=5)
    wait_for(lambda: dash_duo.find_element(cell).text[:16] == start.strftime("%Y-%m-%d %H:%M"), timeout=5)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?range=all&id={newest.id}")  # remembered; drawer in UTC
    dash_duo.wait_for_text_to_equal("#clock-toggle", "Times: UTC", timeout=10)
    dash_duo.wait_for_contains_text("#history-detail-body", start.strftime("%Y-%m-%d %H:%M"), timeout=10)
    assert " UTC" in dash_duo.find_element("#history-detail-body").text
    assert dash_duo.get_logs() == []


def test_a_custom_range_is_entered_in_the_chosen_zone(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine, DISPLAY_TIMEZONE="Asia/Kolkata")  # UTC+5:30, no daylight saving
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    dash_duo.start_server(dash_app)
    now = utc_now()
    start_utc = now - timedelta(days=2)
    local = start_utc.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%dT%H:%M")
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?start={start_utc:%Y-%m-%dT%H:%M}Z")
    dash_duo.wait_for_text_to_equal("#history-range-zone", "in GMT+5:30", timeout=10)
    shown = dash_duo.find_element("#history-start").get_attribute("value")
    assert shown == local  # the URL's UTC start, shown in the viewer's zone
    expected = [r for r in runs if r.start(now) >= start_utc.replace(second=0, microsecond=0)]
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(expected):,} matching runs", timeout=15)
    assert dash_duo.get_logs() == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_page_scrolls_sideways_at_390_or_1440(dash_duo, dash_app, use_engine, pg_engine, theme):
    use_engine(pg_engine)
    insert_runs(pg_engine, history_runs(), utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(dash_duo.server_url + "/health")
    dash_duo.driver.execute_script("localStorage.setItem('sm-theme', arguments[0])", theme)
    wide: dict[str, int] = {}
    for width in (390, 1440):
        dash_duo.driver.set_window_size(width, 900)
        for path in PAGES:
            dash_duo.wait_for_page(dash_duo.server_url + path)
            wait_for(lambda: root_attribute(dash_duo, "data-bs-theme") == theme)
            wait_settled(dash_duo.driver)  # the page's first refresh has drawn its grids and charts
            over = dash_duo.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if over > 0:
                wide[f"{path}@{width}"] = over
    assert wide == {}
    assert dash_duo.get_logs() == []


def test_on_a_phone_status_comes_first_and_a_tap_shows_every_column(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    written_at = utc_now()
    runs = insert_runs(pg_engine, history_runs(), written_at)
    newest = min(runs, key=lambda r: r.start_ago)
    dash_duo.start_server(dash_app)
    dash_duo.driver.set_window_size(390, 900)
    dash_duo.wait_for_page(dash_duo.server_url + "/")
    script = ("return Array.from(document.querySelectorAll('#recent-activity-grid .ag-header-cell'))"
              ".sort(function (a, b) { return a.getAttribute('aria-colindex') - b.getAttribute('aria-colindex'); })"
              ".map(function (h) { return h.textContent.trim(); })")  # in the order shown, not the DOM's

    def headers() -> list[str]:
        return dash_duo.driver.execute_script(script)

    wait_for(lambda: headers()[:3] == ["Status", "Time", "CRM"], timeout=15)
    assert "Error" not in headers()
    dash_duo.driver.execute_script(  # one step: the grid redraws its rows at each refresh
        "var c = document.querySelector('#recent-activity-grid .ag-row[row-index=\"0\"] [col-id=\"crm_source\"]');"
        "c.scrollIntoView({block: 'center'}); c.click();")
    dash_duo.wait_for_element("#recent-activity-grid-detail .row-detail", timeout=5)
    # the modal fades in: its text reads empty until it is shown (a loaded machine caught it so)
    wait_for(lambda: dash_duo.find_element("#recent-activity-grid-detail .row-detail").text, timeout=5)
    detail = dash_duo.find_element("#recent-activity-grid-detail .row-detail").text
    assert f"Run {newest.id:,}" in detail and f"Sync type {newest.sync_type}" in detail
    dash_duo.driver.set_window_size(1440, 900)  # wide again: every column is back
    dash_duo.wait_for_page(dash_duo.server_url + "/")
    wait_for(lambda: "Error" in headers(), timeout=15)
    assert dash_duo.get_logs() == []
