"""Grids sized by content, at 1440 and 390 px. On the history, the alerts, API
usage and the overview no two header cells of a grid overlap, and no status, number or time cell
is cut (its scrollWidth fits its clientWidth); at 1440 px the history and API usage show every
column without a sideways scroll; the phone's row detail formats numbers as the grid does; the
alerts history says who acknowledged an alert and when. The rows are the test's own."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from selenium.webdriver.common.by import By

from dashapp import runtime
from dashapp.alerts import actions as alert_actions
from dashapp.alerts import evaluation as alerts
from dashapp.auth.users import User, add_user
from dashapp.recording import crm_calls as api_calls
from queries.alerts import alert_list
from queries.clock import utc_now
from tests.conftest import call_writer
from tests.support.browser_steps import wait_for
from tests.support.rows import Run, insert_runs, insert_schedules

pytestmark = pytest.mark.usefixtures("browser_ready")
M = timedelta(minutes=1)
LONG_ERROR = ("WarehouseError: duplicate key value violates unique constraint \"genius_appointment_pkey\" "
              "DETAIL: Key (appointment_id)=(88412) already exists. " * 3).strip()
# the latencies of one endpoint: its p99 near 28.9 s, its average with decimals (575.281 and the like)
LATENCIES = [143.25, 151.5, 160.125, 175.75, 190.0, 212.375, 230.5, 260.25, 301.0, 28926.192]

GEOMETRY = """
var root = document.querySelector(arguments[0] + ' .ag-root-wrapper');
if (!root) { return null; }
var heads = Array.prototype.slice.call(root.querySelectorAll('.ag-header-row-column .ag-header-cell'))
  .filter(function (h) { return h.getBoundingClientRect().width > 0; });
var overlaps = [];
for (var i = 0; i < heads.length; i++) {
  for (var j = i + 1; j < heads.length; j++) {
    var a = heads[i].getBoundingClientRect(), b = heads[j].getBoundingClientRect();
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) {
      overlaps.push(heads[i].getAttribute('col-id') + '/' + heads[j].getAttribute('col-id'));
    }
  }
}
var fit = heads.filter(function (h) { return h.classList.contains('sm-fit'); })
  .map(function (h) { return h.getAttribute('col-id'); });
var cut = [];
root.querySelectorAll('.ag-row .ag-cell').forEach(function (c) {
  if (fit.indexOf(c.getAttribute('col-id')) >= 0 && c.scrollWidth > c.clientWidth) {
    cut.push(c.getAttribute('col-id') + ': ' + c.textContent);
  }
});
var headerCut = heads.filter(function (h) {
  var t = h.querySelector('.ag-header-cell-text'); return t && t.scrollWidth > t.clientWidth;
}).map(function (h) { return h.getAttribute('col-id'); });
var box = root.getBoundingClientRect();
var outside = heads.filter(function (h) { return h.getBoundingClientRect().right > box.right + 1; })
  .map(function (h) { return h.getAttribute('col-id'); });
return {rows: root.querySelectorAll('.ag-row .ag-cell').length, fit: fit, overlaps: overlaps, cut: cut,
        headerCut: headerCut, outside: outside, width: Math.round(box.width),
        widths: heads.map(function (h) {
          return h.getAttribute('col-id') + '=' + Math.round(h.getBoundingClientRect().width);
        }).join(' ')};
"""


@pytest.fixture
def everything(use_engine, pg_engine, tmp_path):
    """Runs (a long error among empty ones, big counts, one running), two firing alerts of which
    alice acknowledged one, and CRM calls with a slow tail."""
    for writer in call_writer(pg_engine, flush_seconds=0.05):
        users = tmp_path / "users.json"
        add_user(users, "alice", "operator", "correct horse battery")
        use_engine(pg_engine, AUTH_USERS_FILE=str(users), HEALTH_CACHE_SECONDS="0", DISPLAY_TIMEZONE="UTC")
        now = utc_now()
        insert_schedules(pg_engine, [{"crm_source": "latecrm", "recurrence_type": "interval", "every": 10,
                                      "period": "minutes"}], now)
        runs = insert_runs(pg_engine, [
            Run("latecrm", "contacts", "success", 25 * M, 24 * M, processed=1_234_567, created=234_567,
                updated=1_000_000),
            Run("salesrabbit", "appointments", "running", 3 * M, None, processed=12_345),
            Run("genius", "appointments", "failed", 40 * M, 38 * M, processed=210, failed=210, error=LONG_ERROR),
            *[Run("ratecrm", "calls", "failed", (i + 1) * 3 * M, (i + 1) * 3 * M - M, error="502")
              for i in range(10)],
            *[Run("hubspot", "contacts", "success", (i + 2) * 5 * M, (i + 2) * 5 * M - 2 * M, processed=98_765)
              for i in range(6)],
        ], now)
        settings = runtime.settings()
        alerts.evaluate(pg_engine, settings)
        late = next(r for r in alert_list(pg_engine, ("firing",)).to_dict("records") if r["rule"] == "late")
        alice = User("alice", "operator", "session")
        assert alert_actions.act(settings, pg_engine, alice, int(late["id"]), "acknowledge").status == 200
        for ms in LATENCIES:
            api_calls.record_api_call("hubspot", "/crm/v3/objects/contacts", "GET", 200, ms)
        api_calls.record_api_call("callrail", "/v3/a/ACC8154748ae6bd4e278a7cddd38a662f4f/calls.json", "GET",
                                  200, 432.5)
        writer.flush()
        yield {"runs": runs, "late": late}


def geometry(dash_duo, grid: str) -> dict | None:
    return dash_duo.driver.execute_script(GEOMETRY, grid)


def fits(dash_duo, grid: str, whole: bool) -> None:
    """Wait until ``grid`` has rows and is sized (it sizes itself after they arrive), then check it."""
    dash_duo.driver.execute_script("var g = document.querySelector(arguments[0]); if (g) { g.scrollIntoView(); }",
                                   grid)
    seen: dict = {}

    def good() -> bool:
        seen.clear()
        seen.update(geometry(dash_duo, grid) or {})
        return bool(seen.get("rows")) and bool(seen.get("fit")) and not (
            seen["overlaps"] or seen["cut"] or seen["headerCut"] or (whole and seen["outside"]))

    try:
        wait_for(good, 15, f"{grid} sized by content")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {seen}") from None
    assert seen["overlaps"] == [] and seen["cut"] == [] and seen["headerCut"] == [], seen
    if whole:
        assert seen["outside"] == [], seen


PAGES = [
    ("/history?range=7d", ["#history-grid"]),
    ("/alerts", ["#alerts-history-grid"]),
    ("/api-usage", ["#api-stats-grid"]),
    ("/", ["#crm-status-grid", "#recent-activity-grid"]),
]


@pytest.mark.parametrize("width", [1440, 390])
def test_grids_never_cut_status_numbers_or_times_nor_overlap_headers(dash_duo, dash_app, everything, width):
    dash_duo.driver.set_window_size(width, 900)
    dash_duo.start_server(dash_app)
    for path, grids in PAGES:
        dash_duo.wait_for_page(f"{dash_duo.server_url}{path}")
        for grid in grids:
            # at 1440 px the history's and API usage's columns all show without a sideways scroll
            fits(dash_duo, grid, whole=width == 1440 and grid in ("#history-grid", "#api-stats-grid"))
    assert [e for e in dash_duo.get_logs() if e.get("level") == "SEVERE"] == []


def test_the_acknowledged_column_says_who_and_when(dash_duo, dash_app, everything, pg_engine):
    dash_duo.driver.set_window_size(1440, 900)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/alerts")
    late_id = int(everything["late"]["id"])
    cell = f'#alerts-history-grid .ag-row[row-id="{late_id}"] [col-id="acknowledged_at"]'
    dash_duo.wait_for_contains_text(cell, "alice · ", timeout=15)
    acked_at = alert_list(pg_engine).set_index("id").loc[late_id]["acknowledged_at"]
    assert f"{acked_at:%Y-%m-%d %H:%M}" in dash_duo.find_element(cell).text  # in UTC, the display zone
    others = dash_duo.find_elements(f'#alerts-history-grid .ag-row:not([row-id="{late_id}"]) '
                                    '[col-id="acknowledged_at"]')
    assert others and all(o.text == "" for o in others)


def _shown_ms(value: float) -> str:
    return f"{int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP)):,}"


def test_the_phone_detail_formats_numbers_as_the_grid(dash_duo, dash_app, everything):
    client = dash_app.server.test_client()
    stats = {e["endpoint"]: e for e in client.get("/api/api-stats?hours=24").get_json()["endpoints"]}
    slow = stats["/crm/v3/objects/contacts"]
    assert slow["calls"] == len(LATENCIES) and slow["avg_ms"] != int(slow["avg_ms"])  # decimals to format
    dash_duo.driver.set_window_size(390, 900)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/api-usage")
    row = '#api-stats-grid .ag-center-cols-container .ag-row'
    dash_duo.wait_for_contains_text("#api-stats-grid", "/crm/v3/objects/contacts", timeout=15)

    def open_detail() -> bool:  # in one step, and again until it opens: a click that lands while the
        # page's refresh (every 2 s) draws the rows again is lost
        return dash_duo.driver.execute_script("""
            if (document.querySelector('#api-stats-grid-detail-body table')) { return true; }
            var rows = document.querySelectorAll(arguments[0]);
            for (var i = 0; i < rows.length; i++) {
              if (rows[i].textContent.indexOf('/crm/v3/objects/contacts') >= 0) {
                var cell = rows[i].querySelector('[col-id="error_rate"]');
                cell.scrollIntoView({block: 'center'});
                cell.click();
                return false;
              }
            }
            return false;""", row)

    wait_for(open_detail, 20, "the slow endpoint's row detail")
    lines = {}

    def read() -> bool:
        lines.clear()
        for tr in dash_duo.driver.find_elements(By.CSS_SELECTOR, "#api-stats-grid-detail-body tr"):
            cells = tr.find_elements(By.CSS_SELECTOR, "th, td")
            lines[cells[0].text] = cells[1].text
        return "Avg ms" in lines

    wait_for(read, 10, "the row's detail")
    assert lines["Avg ms"] == _shown_ms(slow["avg_ms"]) and "." not in lines["Avg ms"]
    assert lines["p99 ms"] == _shown_ms(slow["p99_ms"])
    assert lines["Calls"] == f"{slow['calls']:,}"
    assert lines["Error %"] == "0%"
