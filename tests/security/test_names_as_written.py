"""A CRM name is shown as written. A known CRM gets its display name (``hubspot``
-> ``HubSpot``); any other is shown exactly as stored (never re-cased, trimmed or with characters
replaced) in the JSON APIs' ``name``, the alert summaries, the generic webhook and the Slack
message (escaped there by Slack's rules: ``&``, ``<`` and ``>`` only), on both shapes of the
user's tables and on SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashapp import display
from dashapp.alerts import evaluation as alerts
from dashapp.alerts.notify import slack_escape
from dashapp.config import load_settings
from queries.clock import utc_now
from tests.alerts.test_notifications import hooks  # noqa: F401 - the fixture
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs

RTL = "\u200fשלום\u200f"  # right-to-left marks around Hebrew
NAMES = ('ev"il', "<b>x</b>", "\x1b[31mred", "a\nb", "Latecrm", "  spaced  ", RTL, "🚀 rocket", "new_crm",
         "a & b")
M = timedelta(minutes=1)


def failing_runs(names: tuple[str, ...]) -> list[Run]:
    """Per name, ten failed runs (an error_rate alert) and one success two days ago."""
    runs = [Run(name, "contacts", "failed", (i + 1) * 5 * M, (i + 1) * 5 * M - M, 4, 1, 1, 2, error="HTTPError: 502")
            for name in names for i in range(10)]
    return runs + [Run(name, "contacts", "success", 48 * 60 * M, 48 * 60 * M - M, 7, 7, 0, 0) for name in names]


@pytest.fixture
def client(dash_app, use_engine, db):
    use_engine(db)
    return dash_app.server.test_client()


def test_known_crms_get_their_display_name_and_others_stay_as_stored():
    assert display.crm_name("hubspot") == "HubSpot" and display.crm_name("gsheet") == "Google Sheets"
    for name in NAMES:
        assert display.crm_name(name) == name
    assert display.crm_name("HubSpot") == "HubSpot" and display.crm_name("HUBSPOT") == "HUBSPOT"


def test_every_api_name_is_the_stored_value(client, db):
    runs = insert_runs(db, failing_runs((*NAMES, "hubspot")), utc_now())
    expected = {name: name for name in NAMES} | {"hubspot": "HubSpot"}

    crms = client.get("/api/crm-status?limit=200").get_json()["crms"]
    assert {c["crm_source"]: c["name"] for c in crms} == expected
    errors = client.get("/api/errors?days=7").get_json()
    assert {r["crm_source"]: r["name"] for r in errors["crm_failure_rates"]} == expected
    assert all(r["name"] == expected[r["crm_source"]] for r in errors["recent_failures"])
    charts = client.get("/api/performance-charts?days=7").get_json()
    assert sorted(charts["records_by_crm"]["labels"]) == sorted(expected.values())
    for run in (r for r in runs if r.status == "success"):
        assert client.get(f"/api/runs/{run.id}").get_json()["run"]["name"] == expected[run.crm_source]


@pytest.mark.slow
def test_alerts_webhook_and_slack_carry_the_name_as_written(db, hooks, tmp_path):  # noqa: F811
    empty_app_tables(db)
    settings = load_settings({"ALERT_WEBHOOK_URLS": f"{hooks.url}/hook",
                              "ALERT_SLACK_WEBHOOK_URLS": f"{hooks.url}/slack",
                              "SQLITE_PATH": str(tmp_path / "x.sqlite3")})
    now = utc_now()
    insert_runs(db, failing_runs(NAMES), now)
    result = alerts.evaluate(db, settings, now)
    assert result.notifications.failed == 0
    hooked = {body["alert"]["subject"]: body["alert"] for path, body in hooks.received
              if path == "/hook" and body["alert"]["rule"] == "error_rate"}
    assert set(hooked) == set(NAMES)
    for name, alert in hooked.items():
        assert alert["summary"].startswith(f"{name}: "), alert["summary"]
    slack = [body["text"] for path, body in hooks.received if path == "/slack"]
    for name in NAMES:
        escaped = slack_escape(f"{name}: ")
        assert any(f"error_rate {escaped}{escaped}" in text for text in slack), name
    assert any("&lt;b&gt;x&lt;/b&gt;: " in text for text in slack)
    assert not any("<b>" in text for text in slack)


@pytest.mark.usefixtures("browser_ready")
def test_the_page_shows_each_name_literally(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    insert_runs(pg_engine, failing_runs(NAMES), utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.driver.get(dash_duo.server_url + "/errors")
    cells = "#crm-failure-rates-table tbody tr td:first-child"
    dash_duo.wait_for_element(cells, timeout=15)
    shown = dash_duo.driver.execute_script(
        f"return Array.from(document.querySelectorAll({cells!r})).map(td => td.textContent)")
    assert sorted(shown) == sorted(NAMES)
    assert dash_duo.driver.execute_script("return document.querySelectorAll('#crm-failure-rates-table b').length") == 0
    assert dash_duo.get_logs() == []
