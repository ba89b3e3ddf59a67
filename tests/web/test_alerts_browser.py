"""The alerts page and its actions: a late CRM fires on the page, in the bell and at a local
webhook; an operator acknowledges it and resolves another with a note; a viewer cannot; the API
answers 401/403/409; and a success resolves the late alert with a second webhook message."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import text

from dashapp import runtime
from dashapp.alerts import evaluation as alerts
from dashapp.auth.users import add_user
from dashapp.web import ids
from queries.alerts import alert_list
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.browser_steps import sign_in, wait_for, wait_for_refreshes
from tests.support.rows import Run, insert_runs, insert_schedules

M = timedelta(minutes=1)
PASSWORD = "correct horse battery"


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


@pytest.fixture
def late_crm(use_engine, pg_engine, webhook, tmp_path):
    """latecrm: scheduled every 10 minutes, last success 25 minutes ago; ratecrm failing."""
    empty_app_tables(pg_engine)
    users = tmp_path / "users.json"
    add_user(users, "alice", "operator", PASSWORD)
    add_user(users, "bob", "viewer", PASSWORD)
    url, _ = webhook
    use_engine(pg_engine, AUTH_USERS_FILE=str(users), ALERT_WEBHOOK_URLS=url, HEALTH_CACHE_SECONDS="0")
    now = utc_now()
    insert_schedules(pg_engine, [{"crm_source": "latecrm", "recurrence_type": "interval", "every": 10,
                                  "period": "minutes"}], now)
    insert_runs(pg_engine, [Run("latecrm", "contacts", "success", 25 * M, 24 * M, processed=10)]
                + [Run("ratecrm", "calls", "failed", (i + 1) * 3 * M, (i + 1) * 3 * M - M, error="502")
                   for i in range(10)], now)
    from dashapp import runtime

    return runtime.settings()


def firing(engine) -> dict[tuple[str, str], dict]:
    return {(r["rule"], r["subject"]): r for r in alert_list(engine, ("firing",)).to_dict("records")}


def test_the_api_acts_for_operators_only(dash_app, late_crm, pg_engine, webhook):
    alerts.evaluate(pg_engine, late_crm)
    alert_id = int(firing(pg_engine)[("late", "latecrm")]["id"])
    client = dash_app.server.test_client()
    assert client.post(f"/api/alerts/{alert_id}/acknowledge").status_code == 401
    assert client.post(f"/api/alerts/{alert_id}/acknowledge", auth=("bob", PASSWORD)).status_code == 403
    ok = client.post(f"/api/alerts/{alert_id}/acknowledge", auth=("alice", PASSWORD))
    assert ok.status_code == 200 and ok.json["message"] == f"alert {alert_id} acknowledged"
    assert client.post(f"/api/alerts/{alert_id}/acknowledge", auth=("alice", PASSWORD)).status_code == 409
    resolved = client.post(f"/api/alerts/{alert_id}/resolve", auth=("alice", PASSWORD), json={"note": "token renewed"})
    assert resolved.status_code == 200
    row = alert_list(pg_engine).set_index("id").loc[alert_id]
    assert (row["state"], row["resolved_by"], row["resolve_note"], row["acknowledged_by"]) == (
        "resolved", "alice", "token renewed", "alice")
    _, received = webhook
    assert [(m["event"], m["alert"]["rule"]) for m in received if m["alert"]["id"] == alert_id] == [
        ("firing", "late"), ("resolved", "late")]
    assert received[-1]["alert"]["resolve_note"] == "token renewed"
    listed = client.get("/api/alerts?state=resolved&rule=late").json["alerts"]
    assert [a["id"] for a in listed] == [alert_id] and listed[0]["notifications"]["sent"] == 2
    assert client.get("/api/alerts?severity=loud").status_code == 400
    audit = client.get("/api/audit", auth=("alice", PASSWORD)).json["audit"]  # operators only
    assert [(a["actor"], a["action"], a["result"]) for a in audit[::-1]] == [
        ("anonymous", "alert_acknowledge", "denied"), ("bob", "alert_acknowledge", "denied"),
        ("alice", "alert_acknowledge", "ok"), ("alice", "alert_acknowledge", "none"), ("alice", "alert_resolve", "ok")]


@pytest.mark.usefixtures("browser_ready")
def test_late_fires_on_the_page_is_handled_and_resolves(dash_duo, dash_app, late_crm, pg_engine, webhook):
    alerts.evaluate(pg_engine, late_crm)
    found = firing(pg_engine)
    late_id, rate_id = int(found[("late", "latecrm")]["id"]), int(found[("error_rate", "ratecrm")]["id"])
    _, received = webhook
    assert {(m["event"], m["alert"]["rule"], m["alert"]["subject"]) for m in received} >= {
        ("firing", "late", "latecrm"), ("firing", "error_rate", "ratecrm")}

    dash_duo.start_server(dash_app)
    sign_in(dash_duo, "alice", PASSWORD, "/alerts")
    # its last run 25 min ago, every 10 min: due 15 min ago
    dash_duo.wait_for_contains_text(f"#alert-{late_id}", "latecrm contacts: overdue by 15 min", timeout=15)
    dash_duo.wait_for_text_to_equal("#alerts-bell-count", str(len(found)), timeout=15)
    assert "bg-danger" in dash_duo.find_element("#alerts-bell-count").get_attribute("class")

    dash_duo.find_element(f"#alert-{late_id} button").click()  # Acknowledge
    dash_duo.wait_for_contains_text("#alert-action-result", f"alert {late_id} acknowledged", timeout=10)
    dash_duo.wait_for_contains_text(f"#alert-{late_id}", "acknowledged by alice", timeout=10)
    dash_duo.find_elements(f"#alert-{rate_id} button")[1].click()  # Resolve
    dash_duo.wait_for_element(f"#{'alert-resolve-note'}", timeout=5).send_keys("upstream outage, retried by hand")
    dash_duo.find_element("#alert-resolve-confirm").click()
    dash_duo.wait_for_contains_text("#alert-action-result", f"alert {rate_id} resolved", timeout=10)
    wait = time.monotonic() + 10
    while dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#alert-{rate_id}") and time.monotonic() < wait:
        time.sleep(0.2)
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#alert-{rate_id}")

    # the CRM syncs again: the next evaluation resolves "late" and says so at the webhook
    insert_runs(pg_engine, [Run("latecrm", "contacts", "success", M, M / 2, processed=10)], utc_now())
    outcome = alerts.evaluate(pg_engine, late_crm)
    assert "late:latecrm" in outcome.resolved
    assert ("resolved", "late", "latecrm") in {(m["event"], m["alert"]["rule"], m["alert"]["subject"])
                                              for m in received}
    dash_duo.find_element("#alerts-refresh-button").click()
    wait = time.monotonic() + 10
    while dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#alert-{late_id}") and time.monotonic() < wait:
        time.sleep(0.2)
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#alert-{late_id}")
    logs = dash_duo.get_logs()
    assert logs == [], "\n".join(e["message"][:300] for e in logs)



def waiting_on_a_lock(engine) -> bool:
    """Whether a session of the test database waits on a row lock (the app's UPDATE behind ours)."""
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                      "AND datname = current_database()")).scalar())


@pytest.mark.usefixtures("browser_ready")
def test_refreshes_keep_the_buttons_and_an_answer_still_arrives(dash_duo, dash_app, late_crm, pg_engine):
    """Refreshes (every 2 s) leave an unchanged firing list as it is, so the button a user found is
    still the one on the page; and while its acknowledgement's UPDATE waits on a locked row (the
    page holds its refreshes meanwhile), the answer still reaches the page once the row is free."""
    alerts.evaluate(pg_engine, late_crm)
    late = firing(pg_engine)[("late", "latecrm")]
    late_id = int(late["id"])
    runtime.current.settings = dataclasses.replace(late_crm, display_timezone="America/Los_Angeles")
    fired_here = pd.Timestamp(late["fired_at"]).tz_convert("America/Los_Angeles")  # read as UTC
    dash_duo.start_server(dash_app)
    sign_in(dash_duo, "alice", PASSWORD, "/alerts")
    dash_duo.wait_for_contains_text(f"#alert-{late_id}", "latecrm", timeout=15)
    assert f"since {fired_here:%Y-%m-%d %H:%M %Z}" in dash_duo.find_element(f"#alert-{late_id}").text  # PST or PDT
    button = dash_duo.find_element(f"#alert-{late_id} button")
    wait_for_refreshes(dash_duo, ids.ALERTS_INTERVAL, 2)  # unchanged: the list is not drawn again (no stale button)
    assert button.text == "Acknowledge"
    with pg_engine.connect() as conn:
        conn.execute(text("SELECT id FROM sync_monitor.alerts WHERE id = :id FOR UPDATE"), {"id": late_id})
        button.click()  # its UPDATE waits on the lock
        wait_for(lambda: waiting_on_a_lock(pg_engine), timeout=15, what="the acknowledgement waits on the row")
        assert pd.isna(alert_list(pg_engine).set_index("id").loc[late_id, "acknowledged_by"])
        conn.rollback()
    dash_duo.wait_for_contains_text("#alert-action-result", f"alert {late_id} acknowledged", timeout=10)
    assert alert_list(pg_engine).set_index("id").loc[late_id, "acknowledged_by"] == "alice"
    assert dash_duo.get_logs() == []
