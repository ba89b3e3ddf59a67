"""The app under ``URL_PREFIX=/ingestion/monitoring/`` behind a real nginx (Debian's
package; ``location /ingestion/monitoring/ { proxy_pass http://sync_monitor; }``, the README's recipe)
in front of gunicorn, on PostgreSQL holding runs this test writes, driven by headless Chromium:
every page opened, the navbar's links clicked, a run opened from a grid's link (built in
assets/sync-monitor.js), a long message's "show all" (fetched by assets/long-messages.js), the
history's CSV downloaded, a sign-in and a sign-out. Then, from nginx's access log: every request the
browser made was under the prefix and none failed; and the browser console is clean."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest

from dashapp.auth.users import add_user
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.browser_steps import wait_for
from tests.support.gunicorn_server import gunicorn
from tests.support.nginx import nginx
from tests.support.rows import Run, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")

PREFIX = "/ingestion/monitoring/"
PASSWORD = "correct horse battery"
M, H = timedelta(minutes=1), timedelta(hours=1)
LONG_ERROR = "Timeout " + "x" * 9000 + " the tail"
TITLES = {"/": "Overview", "/timeline": "Timeline", "/history": "History", "/performance": "Performance",
          "/errors": "Errors", "/api-usage": "API usage", "/failed": "Failed operations", "/alerts": "Alerts",
          "/health": "Health", "/sign-in": "Sign in"}


def _runs() -> list[Run]:
    return [Run("hubspot", "contacts", "success", 5 * H, 5 * H - 4 * M, processed=120, created=20, updated=100),
            Run("hubspot", "contacts", "success", 3 * H, 3 * H - 3 * M, processed=80, created=5, updated=75),
            Run("genius", "jobs", "failed", 2 * H, 2 * H - M, processed=3, failed=3, error=LONG_ERROR),
            Run("genius", "jobs", "partial", H, H - 2 * M, processed=10, updated=8, failed=2, error="2 rows refused"),
            Run("arrivy", "tasks", "running", 5 * M, None, processed=4)]


def _open(browser, proxy_base: str, path: str) -> None:
    """Open the app's ``path`` through nginx and wait for its page title."""
    browser.driver.get(proxy_base + PREFIX.rstrip("/") + path)
    _wait_title(browser, TITLES.get(path, "Run"))


def _wait_title(browser, title: str) -> None:
    wait_for(lambda: browser.driver.title == f"Sync Monitor · {title}", timeout=20, what=f"the {title} page")


def _click(browser, element) -> None:
    """Scroll ``element`` to the middle of the window and click it (a real click: Dash's links and
    the browser's download handle it as a user's)."""
    browser.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def _path(browser) -> str:
    return browser.driver.execute_script("return window.location.pathname + window.location.search")


def test_every_page_and_action_through_nginx_stays_under_the_path(dash_br, pg_engine, postgres_url, tmp_path):
    empty_app_tables(pg_engine)
    runs = insert_runs(pg_engine, _runs(), utc_now())
    failed = next(r for r in runs if r.status == "failed")
    users = tmp_path / "users.json"
    add_user(users, "alice", "operator", PASSWORD)
    env = {"DATABASE_URL": postgres_url, "URL_PREFIX": PREFIX, "AUTH_USERS_FILE": str(users), "CACHE_SECONDS": "0",
           "WEB_CONCURRENCY": "1", "ROLLUP_REFRESH_SECONDS": "0"}
    with gunicorn(env, tmp_path) as app_base, \
            nginx(tmp_path, [app_base.removeprefix("http://")], location=PREFIX) as proxy:
        browser = dash_br
        # every page, opened by its address
        for path in TITLES:
            _open(browser, proxy.base, path)
        _open(browser, proxy.base, f"/runs/{failed.id}")

        # the navbar's links, clicked (Dash's own navigation, no page load)
        _open(browser, proxy.base, "/")
        links = browser.driver.find_elements("css selector", "#navbar-collapse .nav-link")
        hrefs = [link.get_attribute("href") for link in links]
        assert hrefs == [proxy.base + PREFIX.rstrip("/") + path for path in TITLES if path != "/sign-in"]
        for index, path in enumerate(p for p in TITLES if p != "/sign-in"):
            browser.driver.find_elements("css selector", "#navbar-collapse .nav-link")[index].click()
            _wait_title(browser, TITLES[path])
            assert _path(browser) == PREFIX.rstrip("/") + path

        # a run opened from the overview's recent-activity grid (a link the grid's JavaScript builds)
        _open(browser, proxy.base, "/")
        run_link = f"#recent-activity-grid a.run-link[href='{PREFIX}runs/{failed.id}']"
        _click(browser, browser.wait_for_element(run_link, timeout=20))
        _wait_title(browser, "Run")
        assert _path(browser) == f"{PREFIX}runs/{failed.id}"

        # "show all" of the run's long message: fetched by assets/long-messages.js
        button = browser.wait_for_element("#run-body .show-all-message", timeout=20)
        _click(browser, button)
        wait_for(lambda: browser.driver.execute_script(
            "return document.querySelector('#run-body .long-message pre').textContent") == LONG_ERROR,
            timeout=20, what="the whole message")

        # the history's CSV, downloaded by the browser
        _open(browser, proxy.base, "/history")
        download = browser.wait_for_element("#history-download", timeout=20)
        wait_for(lambda: download.get_attribute("href").startswith(proxy.base + PREFIX + "export/sync-history.csv"),
                 timeout=20, what="the export link")
        _click(browser, download)
        folder = Path(browser.download_path)
        wait_for(lambda: list(folder.glob("sync-history*.csv")), timeout=30, what="the downloaded CSV")
        exported = next(folder.glob("sync-history*.csv"))
        wait_for(lambda: len(list(csv.reader(exported.open()))) == len(runs) + 1, timeout=30, what="all rows")
        assert {row["crm_source"] for row in csv.DictReader(exported.open())} == {"hubspot", "genius", "arrivy"}

        # sign in through the page's form (next under the prefix), then sign out
        browser.driver.get(f"{proxy.base}{PREFIX}sign-in?next={PREFIX}failed")
        browser.wait_for_element("#sign-in-username", timeout=20).send_keys("alice")
        browser.find_element("#sign-in-password").send_keys(PASSWORD)
        browser.find_element("#sign-in-submit").click()
        browser.wait_for_contains_text("#signed-in-user", "alice", timeout=20)
        assert _path(browser) == PREFIX + "failed"
        cookies = {c["name"]: c for c in browser.driver.get_cookies()}
        assert cookies["sync_monitor_session"]["path"] == PREFIX
        wait_for(lambda: "sm-zone" in {c["name"] for c in browser.driver.get_cookies()}, what="the zone cookie")
        assert {c["name"]: c["path"] for c in browser.driver.get_cookies()}["sm-zone"] == PREFIX
        browser.find_element("#sign-out-button").click()
        browser.wait_for_element("#sign-in-link", timeout=20)
        assert _path(browser) == PREFIX
        assert "sync_monitor_session" not in {c["name"] for c in browser.driver.get_cookies()}

        # nginx writes a request's access-log line as its answer completes
        wait_for(lambda: any(uri.startswith(PREFIX + "_dash-layout") for _, uri, _ in proxy.requests()[-20:]),
                 what="the page after signing out in nginx's log")
        served = proxy.requests()
        console = [entry for entry in browser.get_logs() if entry["level"] == "SEVERE"]

    outside = [(status, uri) for status, uri, _ in served if not uri.startswith(PREFIX)]
    # 499: nginx's word for a request the browser gave up as it left the page (a Dash update in
    # flight when "Sign out" loaded the next one): no answer of the app's, so not a failure
    failing = [(status, uri) for status, uri, _ in served
               if status >= 400 and not (status == 499 and uri.startswith(PREFIX + "_dash-update-component"))]
    assert len(served) > 100, served  # pages, assets, Dash's requests, the JSON, the export, the forms
    assert outside == [] and failing == [], (outside, failing)
    uris = [uri for _, uri, _ in served]
    for seen in (PREFIX + "_dash-update-component", PREFIX + "_dash-component-suites/", PREFIX + "assets/",
                 f"{PREFIX}api/runs/{failed.id}/error?", PREFIX + "export/sync-history.csv",
                 PREFIX + "auth/sign-in", PREFIX + "auth/sign-out"):
        assert any(uri.startswith(seen) for uri in uris), seen
    assert console == [], console
