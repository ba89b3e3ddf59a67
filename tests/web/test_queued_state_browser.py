"""On the page, a sync its schedule sent that no worker has started reads "Queued"
on the overview, in its own colour (assets/freshness-queued.css) with white text at 4.5:1 or more,
and the reason on hover."""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.by import By

from dashapp.payloads import overview as payloads
from queries.clock import utc_now
from tests.support.rows import M, Run, insert_runs, insert_schedules

pytestmark = pytest.mark.usefixtures("browser_ready")
GRID = "#crm-status-grid"


def luminance(css: str) -> float:
    red, green, blue = (int(v) / 255 for v in re.findall(r"\d+", css)[:3])
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_queued_sync_reads_queued_in_its_colour(dash_duo, dash_app, use_engine, pg_engine, theme):
    use_engine(pg_engine, REFRESH_SECONDS="30")
    now = utc_now()
    insert_runs(pg_engine, [Run("genius", "jobs", "success", 20 * M, 19 * M)], now)
    insert_schedules(pg_engine, [{"crm_source": "genius", "model_name": "jobs", "recurrence_type": "interval",
                                  "every": 10, "period": "minutes", "last_run": now - 2 * M}], now)
    reason = payloads.crm_statuses(pg_engine, now)["crms"][0]["state_reason"]
    assert reason.startswith("sent by its schedule at ") and "waiting for a worker (due since " in reason

    dash_duo.start_server(dash_app)
    dash_duo.driver.execute_script(f"document.documentElement.setAttribute('data-bs-theme', '{theme}')")
    dash_duo.wait_for_contains_text(GRID, "Genius", timeout=15)
    dash_duo.wait_for_text_to_equal(f"{GRID} [row-id='genius'] [col-id='state_label']", "Queued", timeout=10)
    badge = dash_duo.find_element(f"{GRID} [row-id='genius'] [col-id='state_label']").find_element(
        By.CSS_SELECTOR, ".freshness-state")
    assert "freshness-queued" in badge.get_attribute("class") and badge.get_attribute("title") == reason
    background, text = badge.value_of_css_property("background-color"), badge.value_of_css_property("color")
    lighter, darker = sorted((luminance(background), luminance(text)), reverse=True)
    assert (lighter + 0.05) / (darker + 0.05) >= 4.5, (background, text)
    assert luminance(text) == 1.0  # white text
    assert dash_duo.get_logs() == []
