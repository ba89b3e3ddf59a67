"""Stored markup in every text column of sync_history (crm_source, sync_type, endpoint, status,
error_message), shown on every page in headless Chromium to a signed-in operator: no element or
link from data is created (no <img>, no <a> to the payload's host, no handler ran), chart labels
show the markup as text, and the console stays clean (a CSP violation would be an error there)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from dashapp import runtime
from dashapp.alerts import evaluation as alerts
from queries.clock import utc_now
from tests.security.conftest import PASSWORD
from tests.support.browser_steps import sign_in
from tests.support.rows import Run, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")

CRM = "<img src=x onerror=window.__xss=1>"
SYNC_TYPE = '<a href="https://evil.example/s" id=evil-s>s</a>'
ENDPOINT = "<img src=x onerror=window.__xss=2><a href=//evil.example/e>e</a>"
STATUS = "<a href=//e.x>s</a>"
ERROR = '=HYPERLINK("x") <img src=x onerror=window.__xss=3> <a href="https://evil.example/m">m</a>'
PAGES = ["/", "/history?range=all", "/performance", "/errors", "/api-usage", "/failed", "/alerts", "/health",
         "/timeline?range=7d"]
SHOWS_DATA = {"/", "/history?range=all", "/performance", "/errors", "/failed", "/alerts", "/timeline?range=7d"}

FIND_DATA_ELEMENTS = """
const found = [];
const xlink = 'http://www.w3.org/1999/xlink';
for (const el of document.querySelectorAll('img, a, iframe, object, embed, script, svg a')) {
  const raw = el.getAttribute('href') || el.getAttributeNS(xlink, 'href') || '';
  let host = '';
  try { host = raw ? new URL(raw, location.href).hostname : ''; } catch (e) { host = ''; }
  if (el.hasAttribute('onerror') || el.getAttribute('src') === 'x' || host.includes('evil.example')
      || host === 'e.x' || (el.id || '').startsWith('evil')) {
    found.push(el.outerHTML.slice(0, 160));
  }
}
return {found: found, xss: window.__xss || null};
"""


def wait_until(condition, timeout: float, what: object = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what() if callable(what) else what}"
        time.sleep(0.2)


@pytest.fixture
def hostile_rows(pg_engine, app_env):
    now = utc_now()
    minute = timedelta(minutes=1)
    runs = [Run(CRM, SYNC_TYPE, "failed", (i + 2) * 4 * minute, (i + 2) * 4 * minute - minute, 5, 1, 1, 3,
                error=ERROR, configuration={"note": ERROR}) for i in range(10)]
    runs.append(Run(CRM, SYNC_TYPE, STATUS, 70 * minute, 69 * minute, 9, 3, 3, 0, error=ERROR))
    runs.append(Run(CRM, SYNC_TYPE, "success", 26 * 60 * minute, 26 * 60 * minute - minute, 9, 3, 3, 0))
    insert_runs(pg_engine, runs, now)
    with pg_engine.begin() as conn:
        conn.execute(text("UPDATE orchestration.sync_history SET endpoint = :e"), {"e": ENDPOINT})
    alerts.evaluate(pg_engine, runtime.settings(), now)  # alerts whose subject is the markup CRM


def test_markup_from_data_never_becomes_an_element(dash_duo, dash_app, hostile_rows):
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text("#read-only-badge, #sign-in-link", "Sign in", timeout=10)
    sign_in(dash_duo, "alice", PASSWORD, "/")
    for page in PAGES:
        dash_duo.driver.get(dash_duo.server_url + page)
        dash_duo.wait_for_element("#signed-in-user", timeout=10)
        if page in SHOWS_DATA:  # the payload arrives, as text
            wait_until(lambda: "onerror=window." in dash_duo.driver.execute_script(
                "return document.body.textContent.toLowerCase()"), timeout=15, what=page)
        else:
            wait_until(lambda: dash_duo.driver.execute_script(
                "return document.querySelectorAll('._dash-loading').length === 0"), timeout=10)
        result = dash_duo.driver.execute_script(FIND_DATA_ELEMENTS)
        assert result == {"found": [], "xss": None}, page
    dash_duo.driver.get(dash_duo.server_url + "/performance")
    wait_until(lambda: "<img src=x onerror=window." in dash_duo.driver.execute_script(  # the label, as text
        "return Array.from(document.querySelectorAll('.js-plotly-plot .legendtext, .js-plotly-plot .xtick text'))"
        ".map(e => e.textContent.toLowerCase()).join(' ')"), timeout=15,
        what=lambda: dash_duo.driver.execute_script("return Array.from(document.querySelectorAll('.js-plotly-plot'))"
                                                    ".map(e => e.textContent).join(' | ')")[:900])
    assert dash_duo.driver.execute_script(FIND_DATA_ELEMENTS) == {"found": [], "xss": None}
    assert dash_duo.get_logs() == []
