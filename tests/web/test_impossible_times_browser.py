"""Runs at impossible times in headless Chromium: the run page of a run that ended at 'infinity',
the history grid holding it and a year-1 run, and /health's count, each with a clean console."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.web.test_history_browser import cell, wait_for

pytestmark = pytest.mark.usefixtures("browser_ready")


def test_infinite_and_year_one_runs_show_as_written(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    with pg_engine.begin() as conn:
        conn.execute(text("INSERT INTO orchestration.sync_history"
                          " (crm_source, sync_type, status, start_time, end_time) "
                          "VALUES ('hubspot', 'contacts', 'success', now() - interval '1 hour', 'infinity'), "
                          "('hubspot', 'contacts', 'failed', '0001-01-01 00:00', '0001-01-01 00:05')"))
        infinite, year_one = (r[0] for r in conn.execute(text("SELECT id FROM orchestration.sync_history ORDER BY id")))
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/runs/{infinite}")
    dash_duo.wait_for_contains_text("#run-title", f"Run #{infinite}", timeout=15)
    facts = dash_duo.find_element("#run-facts").text
    assert "Ended infinity" in facts and "Duration —" in facts
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?times=impossible")
    wait_for(lambda: cell(dash_duo, 0, "id").text.strip().lstrip("#") == str(year_one), timeout=15)
    assert cell(dash_duo, 0, "start_time").text.startswith("0001-01-01")
    assert "impossible times" in dash_duo.find_element("#history-times-note").text
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?range=all")
    wait_for(lambda: cell(dash_duo, 0, "end_time").text.strip() == "infinity", timeout=15)
    assert cell(dash_duo, 0, "duration_seconds").text.strip() == "—"
    dash_duo.wait_for_page(f"{dash_duo.server_url}/health")
    dash_duo.wait_for_text_to_equal("#health-impossible-count", "1", timeout=15)
    assert dash_duo.get_logs() == []
