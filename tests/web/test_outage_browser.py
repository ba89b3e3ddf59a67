"""A database outage with pages open in headless Chromium: PostgreSQL refuses connections to the
test's database (``ALLOW_CONNECTIONS false``, its sessions ended), each open page says so in red and
keeps working, and once the database accepts connections again every page, the history grid
included, shows the rows and numbers the test wrote by its own refresh, in place: same filters,
sort and URL, no reload."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from dashapp.web import ids
from queries._sql import bind_time
from queries.clock import utc_now
from tests.conftest import _admin_engine
from tests.support.browser_steps import wait_for, wait_for_callbacks
from tests.support.rows import Run, expected_overview, history_runs, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")

REFRESH_SECONDS = 2  # the tests' REFRESH_SECONDS (tests/conftest.py)
# a page comes back by its own refresh: the interval, then its queries on a fresh connection
ONE_REFRESH = REFRESH_SECONDS + 6


@contextmanager
def refusing_connections(engine: Engine) -> Iterator[Callable[[], None]]:
    """``engine``'s database refuses new connections and its open sessions are ended; the
    context yields the function that lets connections in again, which the exit always calls."""
    name = engine.url.database
    admin = _admin_engine()

    def allow() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))

    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        yield allow
    finally:
        allow()
        admin.dispose()


# more runs than the history's scrollbar spans (dashapp.web.pages.history.SCROLL_ROWS), as a warehouse
# holds: the grid is told no row count and grows as it is scrolled
ARCHIVED_RUNS = 100_050


def archive(engine: Engine, processed: int) -> None:
    """``ARCHIVED_RUNS`` finished runs of one sync, a minute apart, ending 40 days ago: older than
    every page's default window, so only the history (range=all) shows them."""
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO orchestration.sync_history (crm_source, sync_type, status, start_time, end_time, "
            "records_processed) SELECT 'archive', 'backfill', 'success', :last - make_interval(mins => g), "
            ":last - make_interval(mins => g) + interval '30 seconds', :processed "
            "FROM generate_series(0, :n - 1) AS g"),
            {"last": bind_time(conn, utc_now() - timedelta(days=40)), "processed": processed, "n": ARCHIVED_RUNS})



def grid_cell(dash_duo, row: int, column: str) -> str:
    return dash_duo.find_element(f'#history-grid .ag-center-cols-container .ag-row[row-index="{row}"] '
                                 f'[col-id="{column}"]').text


def text_of(dash_duo, selector: str) -> str:
    return dash_duo.find_element(selector).text


def shown(dash_duo, selector: str) -> bool:
    """Whether ``selector`` is on the page and visible (an open alert)."""
    return any(e.is_displayed() for e in dash_duo.find_elements(selector))


def open_window(dash_duo, path: str) -> str:
    """``path`` in a new browser window (not a tab: a hidden tab skips its refreshes)."""
    dash_duo.driver.switch_to.new_window("window")
    dash_duo.driver.set_window_size(1280, 900)  # as the first one (tests/conftest.py)
    dash_duo.wait_for_page(f"{dash_duo.server_url}{path}")
    return dash_duo.driver.current_window_handle


def by_processed(run: Run) -> tuple:
    """The history's order for sort=records_processed:asc: NULLs last, then newest id first."""
    return run.processed is None, run.processed or 0, -(run.id or 0)


@pytest.mark.parametrize("shape", ["pg_engine", "deployed_engine"])  # tests/conftest.py: documented, deployed
def test_every_open_page_comes_back_after_the_database_refused_connections(dash_duo, dash_app, use_engine,
                                                                        request, shape):
    pg_engine = request.getfixturevalue(shape)
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    archive(pg_engine, processed=1000)  # more than any run above
    expected = expected_overview(runs)
    first = min(runs, key=by_processed)
    failed = sorted((r for r in runs if r.status == "failed"), key=by_processed)
    views = {"all": "/history?range=all&sort=records_processed:asc",  # no row count: the grid grows
             "failed": "/history?range=all&status=failed&sort=records_processed:asc"}  # an exact count
    dash_duo.start_server(dash_app)
    driver = dash_duo.driver
    windows = {"all": driver.current_window_handle}
    dash_duo.wait_for_page(f"{dash_duo.server_url}{views['all']}")
    wait_for(lambda: text_of(dash_duo, "#history-count").startswith("about "), 15, "the history's count")
    wait_for(lambda: grid_cell(dash_duo, 0, "id") == str(first.id), 10, "the history's first row")
    windows["failed"] = open_window(dash_duo, views["failed"])
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(failed):,} matching runs", timeout=15)
    wait_for(lambda: grid_cell(dash_duo, 0, "id") == str(failed[0].id), 10, "the failed runs' first row")
    windows["overview"] = open_window(dash_duo, "/")
    dash_duo.wait_for_text_to_equal("#stat-failed", f"{expected['failed_today']:,}", timeout=15)
    windows["performance"] = open_window(dash_duo, "/performance")
    dash_duo.wait_for_contains_text("#duration-chart", "p95 (dotted)", timeout=15)  # drawn, with its legend

    with refusing_connections(pg_engine) as allow:
        for view, top in (("all", first), ("failed", failed[0])):
            driver.switch_to.window(windows[view])
            wait_for(lambda: "The database did not answer" in text_of(dash_duo, "#history-message"), ONE_REFRESH,
                     f"the history's error ({view})")
            assert "alert-danger" in dash_duo.find_element("#history-message").get_attribute("class")
            assert "Traceback" not in text_of(dash_duo, "#history-message")
            wait_for(lambda top=top: grid_cell(dash_duo, 0, "id") == str(top.id), 3,  # the rows read before stay
                     f"the rows read before the outage ({view})")
        driver.switch_to.window(windows["overview"])
        wait_for(lambda: "Refresh failed" in text_of(dash_duo, "#overview-error-banner"), ONE_REFRESH,
                 "the overview's error")
        driver.switch_to.window(windows["performance"])
        wait_for(lambda: "Refresh failed" in text_of(dash_duo, "#performance-error-banner"), ONE_REFRESH,
                 "the performance page's error")
        windows["opened_during"] = open_window(dash_duo, views["all"])  # nothing read yet
        wait_for(lambda: "The database did not answer" in text_of(dash_duo, "#history-message"), ONE_REFRESH,
                 "the error of a history opened during the outage")
        assert not dash_duo.find_elements("#history-grid .ag-overlay-no-rows-center")  # not "No Rows To Show"
        driver.switch_to.window(windows["all"])
        # a few failed refreshes, as in a real outage (the history's interval reloads the grid's rows)
        wait_for_callbacks(dash_duo, f"{ids.HISTORY_GRID}.getRowsRequest", 2)
        wait_for(lambda: grid_cell(dash_duo, 0, "id") == str(first.id), 3, "the rows after failed refreshes")
        allow()
        newest = insert_runs(pg_engine, [Run("hubspot", "contacts", "failed", timedelta(minutes=2),
                                             timedelta(minutes=1), -1, 0, 0, 1, error="written after")], utc_now())

        driver.switch_to.window(windows["all"])
        wait_for(lambda: [grid_cell(dash_duo, i, "id") for i in (0, 1)] == [str(newest[0].id), str(first.id)],
                 ONE_REFRESH, "the history's rows")  # read in one go: the grid re-renders its cells
        wait_for(lambda: not shown(dash_duo, "#history-message"), 3, "#history-message closed")
        driver.switch_to.window(windows["opened_during"])
        wait_for(lambda: grid_cell(dash_duo, 0, "id") == str(newest[0].id), ONE_REFRESH,
                 "the rows of a history opened during the outage")
        assert text_of(dash_duo, "#history-count").startswith("about ")
        wait_for(lambda: not shown(dash_duo, "#history-message"), 3, "#history-message closed")
        driver.switch_to.window(windows["failed"])
        wait_for(lambda: text_of(dash_duo, "#history-count") == f"{len(failed) + 1:,} matching runs", ONE_REFRESH,
                 "the failed runs' count")
        wait_for(lambda: [grid_cell(dash_duo, i, "id") for i in (0, 1)] == [str(newest[0].id), str(failed[0].id)],
                 ONE_REFRESH, "the failed runs' rows")
        wait_for(lambda: not shown(dash_duo, "#history-message"), 3, "#history-message closed")
        driver.switch_to.window(windows["overview"])
        wait_for(lambda: text_of(dash_duo, "#stat-failed") == f"{expected['failed_today'] + 1:,}", ONE_REFRESH,
                 "the overview's numbers")
        wait_for(lambda: not shown(dash_duo, "#overview-error-banner"), ONE_REFRESH, "the overview's banner gone")
        driver.switch_to.window(windows["performance"])
        wait_for(lambda: not shown(dash_duo, "#performance-error-banner"), ONE_REFRESH,
                 "the performance banner gone")
    assert dash_duo.get_logs() == []


def test_rows_past_the_scroll_cap_show_after_an_empty_result(dash_duo, dash_app, use_engine, pg_engine):
    """The same empty grid under a correct count without an outage: a search that matches nothing
    (the grid told 0 rows), then one that matches more runs than the scrollbar spans (no row count
    given to the grid). dash-ag-grid gives the row count of the answer after a 0 straight to AG
    Grid, so it must be None there, not absent."""
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    archive(pg_engine, processed=1000)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?range=all&q=matches+no+run&sort=records_processed:asc")
    dash_duo.wait_for_text_to_equal("#history-count", "0 matching runs", timeout=15)
    search = dash_duo.find_element("#history-error-search")
    search.clear()
    search.send_keys("\n")
    wait_for(lambda: text_of(dash_duo, "#history-count").startswith("about "), 15, "the count of every run")
    wait_for(lambda: grid_cell(dash_duo, 0, "id") == str(min(runs, key=by_processed).id), ONE_REFRESH,
             "the first row after an empty result")
    assert dash_duo.get_logs() == []
