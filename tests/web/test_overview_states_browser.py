"""The overview's CRM grid in headless Chromium (dash_duo)
against PostgreSQL rows the tests wrote. The state comes first (words and colour, its reason on
hover), problems first; a late sync's next sync is "overdue by N min" counted from when its run
was due; each row has a strip of its latest runs linking to them; and 5,000 syncs page 50 CRMs at
a time, with a search, a state filter and a pager, no callback request or response near the
request size limit."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta

import pytest
from dash.testing.wait import until
from flask import request
from selenium.webdriver.common.by import By
from sqlalchemy import text

from dashapp import runtime
from dashapp.payloads import overview as payloads
from dashapp.web.components.crm_status_grid import PAGE_SIZE
from queries.clock import utc_now
from tests.support.rows import M, Run, insert_runs, insert_schedules

pytestmark = pytest.mark.usefixtures("browser_ready")

S = timedelta(seconds=1)
EVERY = 10  # minutes: every schedule of these tests
LATE_FOR = 35 * M + 30 * S  # MarketSharp's run was due this long ago: mid-minute, so N holds a while
HTML = '<img src=x onerror="window.pwned=1">'  # a sync type that must show as text
GRID = "#crm-status-grid"


def schedule(crm: str, sync_type: str, **extra) -> dict:
    return {"crm_source": crm, "model_name": sync_type, "recurrence_type": "interval", "every": EVERY,
            "period": "minutes", **extra}


def every_state(now: datetime) -> tuple[list[Run], list[dict]]:
    """One CRM per state, written in name order (the page must reorder them, problems first):
    MarketSharp late (4 runs every 10 min, its next due 35.5 min ago), Five9 failing, Genius
    running, HubSpot on time with 33 runs (the strip shows 30), Arrivy paused (its schedule
    disabled), CallRail unknown (one run, no schedule), SalesPro grouping two types, its worst
    failing and named like HTML."""
    newest = LATE_FOR + EVERY * M  # MarketSharp's newest run: a schedule of 10 min after it was due
    runs = [
        Run("arrivy", "tasks", "success", 20 * M, 19 * M),
        Run("callrail", "calls", "success", 7 * M, 6 * M),
        Run("five9", "call_logs", "success", 13 * M, 12 * M),
        Run("five9", "call_logs", "failed", 3 * M, 2 * M, error="ReadTimeout"),
        Run("genius", "jobs", "success", 12 * M, 11 * M),
        Run("salespro", HTML, "failed", 4 * M, 3 * M, error="boom"),
        Run("salespro", "jobs", "success", 2 * M, 1 * M),
        Run("genius", "jobs", "running", 2 * M, None),
        *(Run("hubspot", "contacts", "partial" if n % 7 == 3 else "success", (2 + n) * M, (1 + n) * M)
          for n in range(33)),
        *(Run("marketsharp", "leads", "failed" if n == 2 else "success", newest + n * EVERY * M,
              newest + n * EVERY * M - M) for n in range(4)),
    ]
    schedules = [schedule("arrivy", "tasks", enabled=False), schedule("five9", "call_logs"),
                 schedule("genius", "jobs"), schedule("hubspot", "contacts"), schedule("marketsharp", "leads")]
    return runs, schedules


def cell(dash_duo, row_id: str, column: str):
    return dash_duo.find_element(f"{GRID} .ag-center-cols-container [row-id='{row_id}'] [col-id='{column}']")


def shown_order(dash_duo) -> list[str]:
    """The CRM rows' ids top to bottom (by the grid's row index, not the DOM's order)."""
    return dash_duo.driver.execute_script("""
        var rows = Array.from(document.querySelectorAll('#crm-status-grid .ag-center-cols-container .ag-row'));
        function index(r) { return Number(r.getAttribute('row-index')); }
        rows.sort(function (a, b) { return index(a) - index(b); });
        return rows.map(function (r) { return r.getAttribute('row-id'); });""")


def rows_become(dash_duo, expected: list[str], timeout: float = 10) -> None:
    """Wait until the grid shows ``expected`` (its rows follow the count line by a render)."""
    until(lambda: shown_order(dash_duo) == expected, timeout,
          msg=lambda: f"the grid shows {shown_order(dash_duo)[:5]}…, not {expected[:5]}…")


CONTRAST = """
function rgb(text) {
  var m = text.match(/[\\d.]+/g).map(Number);
  return {c: m.slice(0, 3), a: m.length > 3 ? m[3] : 1};
}
function lum(c) {
  var v = c.map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function background(el) {  // the first opaque background behind the element
  for (; el; el = el.parentElement) {
    var b = rgb(getComputedStyle(el).backgroundColor);
    if (b.a > 0.5) { return b.c; }
  }
  return [255, 255, 255];
}
var el = arguments[0], a = lum(rgb(getComputedStyle(el).color).c), b = lum(background(el));
return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
"""


def test_states_come_first_worst_first_with_reasons_overdue_times_and_strips(dash_duo, dash_app, use_engine,
                                                                            pg_engine):
    use_engine(pg_engine, REFRESH_SECONDS="30")
    now = utc_now()
    runs, schedules = every_state(now)
    insert_runs(pg_engine, runs, now)
    insert_schedules(pg_engine, schedules, now)
    expected_at = now - LATE_FOR  # MarketSharp's newest run plus its 10-minute schedule
    page = payloads.crm_statuses(pg_engine, now)["crms"]
    assert [(c["crm_source"], c["state"]) for c in page] == [  # what the page must show, in this order
        ("marketsharp", "late"), ("five9", "failing"), ("salespro", "failing"), ("callrail", "unknown"),
        ("genius", "running"), ("hubspot", "on_time"), ("arrivy", "paused")]
    reason = page[0]["state_reason"]

    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text(GRID, "MarketSharp", timeout=15)
    dash_duo.wait_for_text_to_equal("#crm-status-count", "1–7 of 7 CRMs", timeout=10)
    headers = [h.text for h in dash_duo.find_elements(f"{GRID} .ag-header-cell-text")]
    assert headers[:3] == ["CRM", "State", "Sync type"]  # the state: the first data column
    rows_become(dash_duo, ["marketsharp", "five9", "salespro", "callrail", "genius", "hubspot", "arrivy"])

    late = cell(dash_duo, "marketsharp", "state_label").find_element(By.CSS_SELECTOR, ".freshness-state")
    assert late.text == "Late" and "freshness-late" in late.get_attribute("class")
    assert late.get_attribute("title") == reason  # the hover: the reason, as text
    assert "its schedule was due at" in reason and "no run since" in reason
    others = ("five9", "salespro", "callrail", "genius", "hubspot", "arrivy")
    assert [cell(dash_duo, crm, "state_label").text for crm in others] == [
        "Failing", "Failing", "Unknown", "Running", "On time", "Paused"]
    grouped = cell(dash_duo, "salespro", "state_label").find_element(By.CSS_SELECTOR, ".freshness-state")
    assert grouped.get_attribute("title") == page[2]["state_reason"] and grouped.get_attribute("title").startswith(
        HTML + ": its latest run")  # the reason names its sync type, as text
    assert dash_duo.find_elements(f"{GRID} img") == [] and dash_duo.driver.execute_script("return window.pwned") is None

    before = utc_now() - expected_at - 6 * S  # the cell redraws every 5 s
    overdue = cell(dash_duo, "marketsharp", "next_sync").text
    after = utc_now() - expected_at + S  # the payload's times are to the second
    found = re.fullmatch(r"overdue by (\d+) min", overdue)
    assert found and math.floor(before / M) <= int(found.group(1)) <= math.floor(after / M), overdue
    hover = cell(dash_duo, "marketsharp", "next_sync").find_element(By.CSS_SELECTOR, ".next-sync")
    assert hover.get_attribute("data-expected") == expected_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert page[0]["next_sync_note"] in hover.get_attribute("title")  # where the time came from

    # the strips: each sync's latest runs (30 at most), oldest left, each linking to its run
    for crm, count in (("marketsharp", 4), ("hubspot", 30), ("five9", 2), ("genius", 2), ("callrail", 1)):
        written = sorted((r for r in runs if r.crm_source == crm), key=lambda r: r.start_ago)[:count][::-1]
        ticks = cell(dash_duo, crm, "recent_runs").find_elements(By.CSS_SELECTOR, "a.run-tick")
        assert [t.get_attribute("href").removeprefix(dash_duo.server_url) for t in ticks] == [
            f"/runs/{r.id}" for r in written], crm
        assert [t.get_attribute("title").split(" ")[:2] for t in ticks] == [[f"#{r.id}", r.status] for r in written]
    newest = next(r for r in runs if r.crm_source == "salespro" and r.sync_type == "jobs")  # a group: its newest type
    assert [t.get_attribute("data-run-id") for t in
            cell(dash_duo, "salespro", "recent_runs").find_elements(By.CSS_SELECTOR, "a.run-tick")] == [str(newest.id)]
    failed = next(r for r in runs if r.crm_source == "marketsharp" and r.status == "failed")
    assert "run-tick-failed" in dash_duo.find_element(f"{GRID} a[href='/runs/{failed.id}']").get_attribute("class")
    assert "run-tick-partial" in dash_duo.find_element(
        f"{GRID} a[href='/runs/{next(r for r in runs if r.status == 'partial').id}']").get_attribute("class")

    for theme in ("light", "dark"):  # the words on their colours, at least 4.5:1
        dash_duo.driver.execute_script(f"localStorage.setItem('sm-theme', '{theme}')")
        dash_duo.driver.refresh()
        dash_duo.wait_for_contains_text(GRID, "overdue by", timeout=15)
        assert dash_duo.driver.execute_script("return document.documentElement.getAttribute('data-bs-theme')") == theme
        for element in [*dash_duo.find_elements(f"{GRID} .freshness-state"),
                        *dash_duo.find_elements(f"{GRID} .next-sync.overdue")]:
            assert dash_duo.driver.execute_script(CONTRAST, element) >= 4.5, (theme, element.text)
    assert dash_duo.get_logs() == []


def test_a_next_sync_past_within_its_grace_reads_due_now(dash_duo, dash_app, use_engine, pg_engine):
    """Within its grace a sync whose next firing passed is on time: "due now", not a time ago."""
    use_engine(pg_engine, REFRESH_SECONDS="30")
    now = utc_now()
    insert_runs(pg_engine, [Run("genius", "jobs", "success", (EVERY + 2) * M, (EVERY + 1) * M)], now)
    insert_schedules(pg_engine, [schedule("genius", "jobs")], now)
    assert payloads.crm_statuses(pg_engine, now)["crms"][0]["state"] == "on_time"
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text(GRID, "Genius", timeout=15)
    dash_duo.wait_for_text_to_equal(f"{GRID} .ag-center-cols-container [row-id='genius'] [col-id='next_sync']",
                                    "due now", timeout=10)
    assert cell(dash_duo, "genius", "state_label").text == "On time"
    assert dash_duo.get_logs() == []


PAIRS = 5000
LATE, FAILING = 0, 250  # every 500th CRM: three runs 10 min apart, the newest an hour ago (late at
# that pace); 250 after each: one failed run (failing); the rest one successful run (unknown)


def write_pairs(engine) -> None:
    """5,000 CRMs with a sync type each, one run per pair (three for every 500th), in one INSERT."""
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO orchestration.sync_history (crm_source, sync_type, status, start_time, end_time,
                records_processed, records_created, records_updated, records_failed)
            SELECT 'crm' || lpad(g::text, 5, '0'), 'type' || (g % 7),
                   CASE WHEN g % 500 = :failing THEN 'failed' ELSE 'success' END,
                   t.start, t.start + interval '1 minute', g, 0, g, 0
            FROM generate_series(1, :pairs) g
            CROSS JOIN LATERAL generate_series(0, CASE WHEN g % 500 = :late THEN 2 ELSE 0 END) k
            CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE 'UTC') - interval '1 hour'
                                       - (g || ' seconds')::interval - k * interval '10 minutes' AS start) t
        """), {"pairs": PAIRS, "late": LATE, "failing": FAILING})


@pytest.fixture
def callback_sizes(dash_app):
    """The size of every Dash callback request and response while the test runs."""
    seen: list[tuple[int, int, int]] = []

    def measure(response):
        if request.path == "/_dash-update-component":
            body = response.get_data() if not response.is_streamed else b""
            seen.append((request.content_length or 0, len(body), response.status_code))
        return response

    hooks = dash_app.server.after_request_funcs.setdefault(None, [])
    hooks.append(measure)
    yield seen
    hooks.remove(measure)


def page_rows(dash_duo) -> int:
    return len(dash_duo.find_elements(f"{GRID} .ag-center-cols-container .ag-row"))


def test_five_thousand_syncs_page_fifty_crms_at_a_time(dash_duo, dash_app, use_engine, pg_engine, callback_sizes):
    started = time.monotonic()
    write_pairs(pg_engine)
    use_engine(pg_engine, REFRESH_SECONDS="60")
    limit = runtime.settings().max_request_bytes
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_text_to_equal("#crm-status-count", f"1–{PAGE_SIZE} of {PAIRS:,} CRMs", timeout=30)
    assert page_rows(dash_duo) == PAGE_SIZE
    first = payloads.crm_statuses(pg_engine, utc_now(), limit=PAGE_SIZE, strip=0)["crms"]
    late = {f"crm{n:05d}" for n in range(500, PAIRS + 1, 500)}
    failing = {f"crm{n:05d}" for n in range(FAILING, PAIRS, 500)}
    assert [c["state"] for c in first[:20]] == ["late"] * 10 + ["failing"] * 10
    assert {c["crm_source"] for c in first[:10]} == late and {c["crm_source"] for c in first[10:20]} == failing
    rows_become(dash_duo, [c["crm_source"] for c in first])  # problems first
    choices = dash_duo.find_element("#crm-status-state").text.splitlines()
    assert choices == ["All states (5,000)", "Late (10)", "Failing (10)", "Unknown (4,980)", "Running (0)",
                       "Queued (0)", "On time (0)", "Paused (0)"]

    search = dash_duo.find_element("#crm-status-search")
    search.send_keys("crm04242")  # debounced: sent when typing stops
    dash_duo.wait_for_text_to_equal("#crm-status-count", "1–1 of 1 CRM matching “crm04242”", timeout=20)
    rows_become(dash_duo, ["crm04242"])
    assert "crm04242" in dash_duo.find_element(GRID).text

    dash_duo.clear_input(search)
    dash_duo.wait_for_text_to_equal("#crm-status-count", f"1–{PAGE_SIZE} of {PAIRS:,} CRMs", timeout=20)
    dash_duo.driver.execute_script("""  // the pager's "2" (found and clicked at once: the pager redraws)
        Array.from(document.querySelectorAll('#crm-status-pager .page-link'))
          .filter(function (a) { return a.textContent.trim() === '2'; })[0].click();""")
    dash_duo.wait_for_text_to_equal("#crm-status-count", f"{PAGE_SIZE + 1}–{2 * PAGE_SIZE} of {PAIRS:,} CRMs",
                                    timeout=20)
    expected = [c["crm_source"] for c in payloads.crm_statuses(pg_engine, utc_now(), limit=PAGE_SIZE,
                                                               offset=PAGE_SIZE, strip=0)["crms"]]
    rows_become(dash_duo, expected)
    assert page_rows(dash_duo) == PAGE_SIZE

    dash_duo.driver.set_window_size(390, 844)  # a phone: the pager and the filters fit
    until(lambda: dash_duo.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0, 5)
    assert dash_duo.find_element("#crm-status-pager").is_displayed()


    dash_duo.find_element("#crm-status-state option[value='failing']").click()
    dash_duo.wait_for_text_to_equal("#crm-status-count", "1–10 of 10 CRMs with a failing sync", timeout=20)
    until(lambda: set(shown_order(dash_duo)) == failing, 10)  # a new filter starts at page 1

    assert callback_sizes and all(status in (200, 204) for _, _, status in callback_sizes)
    assert max(sent for sent, _, _ in callback_sizes) < limit / 10
    assert max(got for _, got, _ in callback_sizes) < limit / 2
    assert dash_duo.get_logs() == []
    assert time.monotonic() - started < 60
