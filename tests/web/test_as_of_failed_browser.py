"""The failed operations page as of a moment in headless Chromium: the grid holds the operations
whose run had failed by T (computed in tests.web.test_as_of_failed from the rows the test wrote),
and its relative times ("1 h ago") count from T, not from the browser's clock; the console stays
clean."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from selenium.webdriver.support.wait import WebDriverWait

from dashapp.display import iso_utc
from dashapp.web import ids
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.web.test_as_of_failed import AT_AGO, expected, write

pytestmark = pytest.mark.usefixtures("browser_ready")

UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def relative(moment: datetime, now: datetime) -> str:
    """assets/sync-monitor.js's relative(): the largest whole unit, "just now" under 10 s."""
    seconds = round((moment - now).total_seconds())
    if abs(seconds) < 10:
        return "just now"
    name, size = next((name, size) for name, size in UNITS if abs(seconds) >= size)
    count = abs(seconds) // size
    return f"{count} {name} ago" if seconds < 0 else f"in {count} {name}"


def test_failed_operations_relative_times_count_from_the_moment(dash_duo, dash_app, use_engine, pg_engine):
    empty_app_tables(pg_engine)
    use_engine(pg_engine)
    now = utc_now().replace(microsecond=0)
    runs, ago = write(pg_engine, now)
    at = now - AT_AGO
    want = expected(runs, ago, AT_AGO)

    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/failed?range=all&at={iso_utc(at)}")
    dash_duo.wait_for_contains_text("#as-of-banner-text", f"As of {at:%Y-%m-%d %H:%M}", timeout=15)
    rows = f"#{ids.FAILED_GRID} .ag-center-cols-container .ag-row"
    WebDriverWait(dash_duo.driver, 20).until(lambda d: len(d.find_elements("css selector", rows)) == len(want))
    failed = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0] + ' [col-id=\"failed_at\"] .relative-time'))"
        ".map(function (e) { return [e.getAttribute('data-iso'), e.textContent]; });", rows)
    assert len(failed) == len(want)
    shown = {(iso, text) for iso, text in failed}
    moments = [datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC) for iso, _ in failed]
    assert shown == {(iso, relative(m, at)) for (iso, _), m in zip(failed, moments, strict=True)}
    assert any(relative(m, at) != relative(m, now) for m in moments)  # counted from now, some would differ
    assert dash_duo.get_logs() == []
