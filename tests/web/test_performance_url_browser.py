"""The performance page keeps its selections in its URL, as the history does: a link selects them,
a changed control is written back without a reload, a bad value is a chip over the defaults; in
headless Chromium against PostgreSQL rows the test wrote."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queries.clock import utc_now
from tests.support.browser_steps import wait_for
from tests.support.rows import Run, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")


def checked(dash_duo) -> str:
    return dash_duo.driver.execute_script(
        "var c = document.querySelector('#performance-range input:checked'); return c ? c.value : null;")


def records(dash_duo) -> dict | None:
    """The records chart's bars as drawn: {CRM: records}."""
    return dash_duo.driver.execute_script("""
        var g = document.querySelector('#records-by-crm-chart .js-plotly-plot');
        if (!g || !g._fullData || !g._fullData.length) { return null; }
        var x = Array.from(g._fullData[0].x), y = Array.from(g._fullData[0].y), out = {};
        x.forEach(function (name, i) { out[name] = y[i]; });
        return out;""")


def click_range(dash_duo, label: str) -> None:
    next(x for x in dash_duo.find_elements("#performance-range label") if x.text == label).click()


def test_the_url_holds_the_range_crms_and_sync_types(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    insert_runs(pg_engine, [Run("hubspot", "contacts", "success", timedelta(days=20), timedelta(days=20) - timedelta(
        minutes=1), 700), Run("hubspot", "deals", "success", timedelta(hours=3), timedelta(hours=2), 30),
        Run("genius", "contacts", "success", timedelta(hours=5), timedelta(hours=4), 5)], utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/performance?range=30d&crm_source=hubspot")
    dash_duo.wait_for_contains_text("#performance-crm-source", "HubSpot", timeout=15)
    assert checked(dash_duo) == "30d"
    wait_for(lambda: records(dash_duo) == {"HubSpot": 730}, what="HubSpot's 30 days only")

    dash_duo.driver.execute_script("window.notReloaded = true;")
    click_range(dash_duo, "Past 7 d")
    wait_for(lambda: "range=" not in dash_duo.driver.current_url, what="the default range leaves the URL")
    assert "crm_source=hubspot" in dash_duo.driver.current_url
    wait_for(lambda: records(dash_duo) == {"HubSpot": 30}, what="HubSpot's 7 days")
    dash_duo.select_dcc_dropdown("#performance-sync-type", value="deals")
    wait_for(lambda: "sync_type=deals" in dash_duo.driver.current_url, what="the sync type in the URL")
    click_range(dash_duo, "Past 90 d")
    wait_for(lambda: "range=90d" in dash_duo.driver.current_url, what="the range in the URL")
    assert dash_duo.driver.execute_script("return window.notReloaded === true;")  # no reload on the way

    dash_duo.driver.get(dash_duo.driver.current_url)  # the URL alone brings the view back
    dash_duo.wait_for_contains_text("#performance-sync-type", "deals", timeout=15)
    assert checked(dash_duo) == "90d"
    assert "HubSpot" in dash_duo.find_element("#performance-crm-source").text
    assert dash_duo.get_logs() == []


def test_a_bad_value_is_a_chip_over_the_defaults(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    now = utc_now()
    insert_runs(pg_engine, [Run("hubspot", "contacts", "success", timedelta(hours=3), timedelta(hours=2), 30)], now)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/performance?range=1y&crm_source=nope&q=x")
    dash_duo.wait_for_contains_text(".ignored-chips", "ignored: range: '1y' is not one of 24h, 7d, 30d, 90d, all",
                                    timeout=15)
    chips = dash_duo.find_element(".ignored-chips").text
    assert "crm_source: 'nope' is not a CRM in sync_history" in chips and "q: is not a parameter" in chips
    assert checked(dash_duo) == "7d"
    wait_for(lambda: records(dash_duo) == {"HubSpot": 30}, what="the defaults: every CRM, 7 days")

    start, end = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), now.strftime("%Y-%m-%dT%H:%M:%SZ")
    dash_duo.wait_for_page(f"{dash_duo.server_url}/performance?start={start}&end={end}")
    wait_for(lambda: checked(dash_duo) == "custom", what="the link's own window shown as Custom")
    wait_for(lambda: records(dash_duo) == {"HubSpot": 30}, what="the link's window")
    dash_duo.select_dcc_dropdown("#performance-crm-source", value="HubSpot")
    wait_for(lambda: "crm_source=hubspot" in dash_duo.driver.current_url, what="the CRM in the URL")
    assert f"start={start.replace(':', '%3A')}" in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []
