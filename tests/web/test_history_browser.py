"""The history page in headless Chromium against PostgreSQL rows the test wrote: filter, sort,
scroll past the first block, open a row, download, and reproduce a view from its URL."""

from __future__ import annotations

import csv
import io
import urllib.request
from datetime import timedelta

import pytest
from selenium.webdriver.common.keys import Keys

from queries.clock import utc_now
from tests.support.browser_steps import wait_for
from tests.support.rows import Run, history_runs, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")


def cell(dash_duo, row: int, column: str):
    return dash_duo.find_element(f'#history-grid .ag-center-cols-container .ag-row[row-index="{row}"] '
                                 f'[col-id="{column}"]')



def test_filter_sort_open_and_download(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    failed = [r for r in runs if r.status == "failed"]
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?range=30d")
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(runs):,} matching runs", timeout=15)
    dash_duo.select_dcc_dropdown("#history-status", value="failed")
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(failed):,} matching runs", timeout=15)

    search = dash_duo.find_element("#history-error-search")
    search.send_keys("429", Keys.ENTER)
    with_429 = [r for r in failed if r.error and "429" in r.error]
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(with_429):,} matching runs", timeout=10)
    wait_for(lambda: "q=429" in dash_duo.driver.current_url)  # the URL follows the grid in a clientside callback
    assert "status=failed" in dash_duo.driver.current_url

    dash_duo.find_element('#history-grid .ag-header-cell[col-id="records_processed"] .ag-header-cell-label').click()
    top = min(r.processed for r in with_429 if r.processed is not None)
    wait_for(lambda: cell(dash_duo, 0, "records_processed").text == f"{top:,}")
    wait_for(lambda: "sort=records_processed%3Aasc" in dash_duo.driver.current_url)

    href = dash_duo.find_element("#history-download").get_attribute("href")
    assert "q=429" in href and "status=failed" in href
    with urllib.request.urlopen(href, timeout=10) as response:
        rows = list(csv.DictReader(io.StringIO(response.read().decode("utf-8"))))
    ordered = sorted(with_429, key=lambda r: (r.processed is None, r.processed or 0, -r.id))
    assert [int(r["id"]) for r in rows] == [r.id for r in ordered]

    wait_for(lambda: cell(dash_duo, 0, "crm_source").click() or True)  # a click opens the run's page
    wait_for(lambda: dash_duo.driver.current_url.endswith(f"/runs/{ordered[0].id}"))
    dash_duo.wait_for_contains_text("#run-error", "429", timeout=10)

    dash_duo.driver.back()
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(with_429):,} matching runs", timeout=10)
    assert dash_duo.get_logs() == []


def test_scrolling_loads_rows_past_the_first_block(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    many = [Run("arrivy", "tasks", "success", timedelta(minutes=10 * i + 1), timedelta(minutes=10 * i), i, 0, i, 0)
            for i in range(250)]
    insert_runs(pg_engine, many, utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?range=all")
    dash_duo.wait_for_text_to_equal("#history-count", "250 matching runs", timeout=15)
    dash_duo.driver.execute_script("dash_ag_grid.getApi('history-grid').ensureIndexVisible(230, 'middle')")
    wait_for(lambda: cell(dash_duo, 230, "records_processed").text == "230")
    assert dash_duo.get_logs() == []


def test_a_pasted_link_reproduces_the_view(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    expected = [r for r in runs if r.crm_source == "genius" and r.sync_type == "calls"
                and r.processed is not None and r.processed > 200]
    link = ("/history?range=all&crm_source=genius&sync_type=calls&sort=start_time:asc"
            "&filter=%7B%22records_processed%22%3A%7B%22filterType%22%3A%22number%22%2C%22type%22%3A"
            "%22greaterThan%22%2C%22filter%22%3A200%7D%7D")
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(dash_duo.server_url + link)
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(expected):,} matching runs", timeout=15)
    oldest = max(expected, key=lambda r: r.start_ago)
    wait_for(lambda: cell(dash_duo, 0, "id").text == str(oldest.id))
    assert dash_duo.get_logs() == []


def test_a_bad_link_says_so_and_the_page_still_works(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?range=all&sort=nonsense:asc")
    dash_duo.wait_for_contains_text("#history-link-message", "sort: unknown column 'nonsense'", timeout=15)
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(runs):,} matching runs", timeout=15)
