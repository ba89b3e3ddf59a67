"""Every page at 1440 and 390 px, light and dark, in headless Chromium against
PostgreSQL holding data this module writes (several CRMs, failures, partials, a running sync, a
late CRM, CRM calls with 429s and rate limits, a breaker that opened, firing alerts, failed
operations), checked as a demanding viewer would (tests/support/page_checks.py):

- lane D (colours): axe-core's color-contrast rule finds nothing; every state colour has words; in
  dark, every grid, code block, card and panel is dark;
- lane A (figures): no legend over an x-axis title or tick label; no light chart in the dark theme;
  a chart's text at 4.5:1 on its background;
- lane B (grids): no two header cells of one grid overlap;
- every lane: no sideways scroll at 390 px, no SEVERE message in the browser console.

One app server and one browser for the module; each (page, width, theme) is opened once, its
findings kept, and each check is its own test, named by lane, page, width and theme. /failed and
/alerts are seen again signed in as an operator (their buttons), after every other view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from dash.testing.application_runners import ThreadedRunner
from dash.testing.composite import DashComposite
from sqlalchemy import text

from dashapp import runtime
from dashapp.alerts import evaluation as alerts
from dashapp.auth.users import add_user
from dashapp.config import load_settings
from dashapp.recording import crm_calls as api_calls
from dashapp.recording.circuit_breaker import CircuitBreaker
from dashapp.recording.recorder import record_sync
from dashapp.storage.db import postgres_engine
from dashapp.storage.sync_tables import metadata
from queries.clock import utc_now
from tests.conftest import empty_app_tables, forget_rollups, need
from tests.support import page_checks
from tests.support.browser_steps import sign_in, wait_for
from tests.support.rows import Run, history_runs, insert_runs, insert_schedules

pytestmark = pytest.mark.usefixtures("browser_ready")

M, H = timedelta(minutes=1), timedelta(hours=1)
# {failed}: the run page of a failed run with 429s and a breaker; {running}: of a running one (its
# progress bar). "operator:" views are seen signed in as an operator (their action buttons), last.
PAGES = ("/", "/timeline", "/history", "/performance", "/errors", "/api-usage", "/failed", "/alerts", "/health",
         "/runs/{failed}", "/runs/{running}", "/sign-in")
OPERATOR_PAGES = ("operator:/failed", "operator:/alerts")
WIDTHS = (1440, 390)
THEMES = ("light", "dark")
VIEWS = [(page, width, theme) for pages in (PAGES, OPERATOR_PAGES) for width in WIDTHS for theme in THEMES
         for page in pages]
IDS = [f"{page.replace('{failed}', 'failed').replace('{running}', 'running')}-{width}-{theme}"
       for page, width, theme in VIEWS]
PASSWORD = "correct horse battery"
ERROR = "HTTPError: 429 Client Error: Too Many Requests for url: https://api.hubapi.com/crm/v3/objects/contacts"


def _write(engine) -> dict[str, int]:
    """The module's data, through the tests' row writer, the recorder and the CRM-call writer;
    returns the ids of the run pages' subjects: the failed run with 429s and a running run."""
    now = utc_now()
    more = [Run(crm, kind, status, h * H + 20 * M, h * H, processed=300 + 7 * h, created=h, updated=2 * h,
                failed=4 if status == "partial" else 0,
                error={"failed": "ReadTimeout: read timed out after 30 s", "partial": "4 of 310 records rejected"}
                .get(status))
            for h, (crm, kind, status) in enumerate(
                [("five9", "calls", "success"), ("arrivy", "tasks", "partial"), ("servicetitan", "jobs", "success"),
                 ("five9", "calls", "failed"), ("arrivy", "tasks", "success"), ("servicetitan", "jobs", "failed"),
                 ("marketsharp", "leads", "success"), ("five9", "agents", "success")] * 3, start=1)]
    more += [Run("ratecrm", "calls", "failed", (i + 1) * 3 * M, (i + 1) * 3 * M - M, error="HTTPError: 502 Bad Gateway")
             for i in range(10)]
    more += [Run("latecrm", "contacts", "success", 25 * M, 24 * M, processed=10),
             Run("arrivy", "tasks", "running", 4 * M, None, processed=120)]
    written = insert_runs(engine, history_runs() + more, now)
    running = next(r for r in written if r.crm_source == "arrivy" and r.status == "running")
    insert_schedules(engine, [{"crm_source": "latecrm", "recurrence_type": "interval", "every": 10,
                               "period": "minutes"}], now)
    breaker = CircuitBreaker("hubspot-contacts", "hubspot", failure_threshold=2, reset_timeout=600)
    with pytest.raises(ConnectionError), record_sync("hubspot", "contacts", db=engine) as run:
        api_calls.record_api_call("hubspot", "/crm/v3/objects/contacts", "GET", 200, 120.0,
                                  headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "12"})
        api_calls.record_api_call("hubspot", "/crm/v3/objects/deals", "GET", 200, 340.0,
                                  headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "40"})
        api_calls.record_api_call("hubspot", "/crm/v3/objects/owners", "GET", 500, 2900.0, error="HTTP 500")
        run.add(processed=100)
        for _ in range(2):
            with pytest.raises(ConnectionError), breaker:
                api_calls.record_api_call("hubspot", "/crm/v3/objects/contacts", "GET", 429, 80.0,
                                          headers={"Retry-After": "30"}, error="HTTP 429")
                raise ConnectionError(ERROR)
        raise ConnectionError(ERROR)
    for i in range(12):
        api_calls.record_api_call("callrail", "/v3/a/calls.json", "GET", 200, 90.0 + 40 * i,
                                  headers={"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": str(900 - 10 * i)})
    api_calls.writer().flush()
    return {"failed": int(run.id), "running": int(running.id)}


@pytest.fixture(scope="module")
def sweep_app(dash_app, postgres_url, tmp_path_factory) -> Iterator[dict[str, int]]:
    """The module's database and app settings (one app for every page); yields the run pages' ids."""
    from queries import table_shape

    engine = postgres_engine(postgres_url, "orchestration")
    table_shape.forget(engine)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(text("TRUNCATE orchestration.sync_history, orchestration.sync_schedule RESTART IDENTITY"))
    forget_rollups(engine)
    empty_app_tables(engine)
    users = tmp_path_factory.mktemp("sweep") / "users.json"
    add_user(users, "alice", "operator", PASSWORD)
    saved = (runtime.current.settings, runtime.current.engine)
    env = {"REFRESH_SECONDS": "2", "CACHE_SECONDS": "0", "HEALTH_CACHE_SECONDS": "0", "AUTH_USERS_FILE": str(users)}
    runtime.current.engine, runtime.current.settings = engine, load_settings(env)
    writer = api_calls.Writer(engine, flush_seconds=60)
    api_calls.use_writer(writer)
    try:
        runs = _write(engine)
        alerts.evaluate(engine, runtime.settings(), deliver=False)
        yield runs
    finally:
        writer.close()
        api_calls.use_writer(None)
        runtime.current.settings, runtime.current.engine = saved
        engine.dispose()


@pytest.fixture(scope="module")
def sweep_duo(request, dash_app, sweep_app, tmp_path_factory) -> Iterator[DashComposite]:
    """dash_duo for the whole module: one server, one browser."""
    config = request.config
    with ThreadedRunner() as server, DashComposite(
        server=server, browser=config.getoption("webdriver"), remote=config.getoption("remote"),
        remote_url=config.getoption("remote_url"), headless=config.getoption("headless"),
        options=config.hook.pytest_setup_options(), download_path=str(tmp_path_factory.mktemp("download")),
        percy_assets_root=config.getoption("percy_assets"), percy_finalize=config.getoption("nopercyfinalize"),
        pause=config.getoption("pause"),
    ) as duo:
        duo.start_server(dash_app)
        yield duo


@pytest.fixture(scope="module")
def seen(sweep_duo, sweep_app) -> Iterator[Callable[[str, int, str], list[page_checks.Finding]]]:
    """(page, width, theme) -> its findings, each view opened once (by the first check that asks)."""
    if not page_checks.AXE_JS.exists():
        need("axe-core", f"{page_checks.AXE_JS} is missing: bash .ci/setup (npm ci in tests/axe)")
    axe = page_checks.axe_source()
    views: dict[tuple[str, int, str], list[page_checks.Finding]] = {}
    signed_in: list[str] = []

    def look(page: str, width: int, theme: str) -> list[page_checks.Finding]:
        key = (page, width, theme)
        if key not in views:
            driver = sweep_duo.driver
            if page.startswith("operator:") and not signed_in:
                sign_in(sweep_duo, "alice", PASSWORD, "/")
                signed_in.append("alice")
            sweep_duo.get_logs()  # what earlier pages said is theirs
            path = page.removeprefix("operator:").format(**sweep_app)
            page_checks.apply_view(driver, sweep_duo.server_url + path, width, theme)
            wait_for(lambda: page_checks.theme_applied(driver, theme), what=f"data-bs-theme={theme}")
            page_checks.wait_settled(driver)
            found = page_checks.geometry(driver) + page_checks.contrast(driver, axe)
            found += page_checks.severe_console(driver.get_log("browser"))
            views[key] = found
        return views[key]

    yield look


def _check(look, view: tuple[str, int, str], *checks: str) -> None:
    found = [f for f in look(*view) if f.check in checks]
    assert found == [], f"{view[0]} at {view[1]} px, {view[2]}:\n" + "\n".join(str(f) for f in found)


@pytest.mark.parametrize("view", VIEWS, ids=IDS)
def test_lane_d_contrast_and_state_words(seen, view):
    """axe-core color-contrast: no violation; every badge, tick and state has words; in dark, no grid,
    code block, card or panel stays light and the grids' theme switched (lane D)."""
    _check(seen, view, "contrast", "state-words", "light-panel-in-dark")


@pytest.mark.parametrize("view", VIEWS, ids=IDS)
def test_lane_a_legends_clear_of_axes_and_charts_dark_in_dark(seen, view):
    """No legend over an x-axis title or tick label; in dark, no chart on a light background; a chart's
    text readable on its background (lane A)."""
    _check(seen, view, "legend-over-axis", "chart-title-cut", "light-chart-in-dark", "chart-contrast")


@pytest.mark.parametrize("view", VIEWS, ids=IDS)
def test_lane_b_grid_headers_never_overlap(seen, view):
    """No two header cells of one AG Grid overlap (lane B)."""
    _check(seen, view, "grid-headers-overlap")


@pytest.mark.parametrize("view", VIEWS, ids=IDS)
def test_every_lane_no_sideways_scroll_and_a_clean_console(seen, view):
    """No sideways scroll (at 390 px too) and no SEVERE console message."""
    _check(seen, view, "sideways-scroll", "console")


def test_the_sweep_saw_the_data_it_wrote(sweep_duo, sweep_app):
    """The pages above were not empty: the run page shows the run's error and its two 429s, the
    alerts page the late CRM and a warning count, the failed operations grid a failure of ratecrm."""
    sweep_duo.driver.set_window_size(1440, 900)
    sweep_duo.wait_for_page(f"{sweep_duo.server_url}/runs/{sweep_app['failed']}")
    sweep_duo.wait_for_contains_text("#run-error", ERROR, timeout=15)
    assert sweep_duo.find_element("#run-calls-429").text == "429 2"
    sweep_duo.wait_for_page(f"{sweep_duo.server_url}/alerts")
    sweep_duo.wait_for_contains_text("#alerts-active", "latecrm", timeout=15)
    sweep_duo.wait_for_contains_text("#alerts-counts", "warning", timeout=15)
    sweep_duo.wait_for_page(f"{sweep_duo.server_url}/failed")
    sweep_duo.wait_for_contains_text("#failed-operations-grid", "ratecrm", timeout=15)
    sweep_duo.wait_for_page(f"{sweep_duo.server_url}/runs/{sweep_app['running']}")
    sweep_duo.wait_for_element("#run-title .progress, #run-page .progress, .progress", timeout=15)
