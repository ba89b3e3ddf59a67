"""The failed-operations console in headless Chromium with a real Celery worker: an operator signs
in, retries one operation and watches it resolve, then bulk-retries a CRM's failures and finds
both actions in the audit; a viewer sees the same page with no way to act."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from dashapp.auth.users import add_user
from queries import failed_operations as queries
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.browser_steps import sign_in
from tests.support.celery_worker import celery_worker
from tests.support.page_checks import wait_settled
from tests.support.rows import Run, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")
PASSWORD = "correct horse battery"


@pytest.fixture
def console(dash_app, use_engine, pg_engine, postgres_url, redis_url, tmp_path):
    empty_app_tables(pg_engine)
    users = tmp_path / "users.json"
    add_user(users, "alice", "operator", PASSWORD)
    add_user(users, "bob", "viewer", PASSWORD)
    queue = f"sm_console_{uuid.uuid4().hex[:8]}"
    use_engine(pg_engine, AUTH_USERS_FILE=str(users), CELERY_BROKER_URL=redis_url, CELERY_QUEUES=queue)
    runs = insert_runs(pg_engine, [
        Run("retrytest", "contacts", "failed", timedelta(hours=h), timedelta(hours=h) - timedelta(minutes=1),
            error=f"HTTPError: 502 Bad Gateway (page {h})", configuration={"records": 4, "sleep": 1})
        for h in (1, 2, 3)
    ] + [Run("hubspot", "deals", "failed", timedelta(hours=4), timedelta(hours=4) - timedelta(minutes=1),
             error="AuthenticationError: token expired")], utc_now())
    with celery_worker(redis_url, queue, DATABASE_URL=postgres_url, RETRY_HANDLERS="tests.support.retry_handlers"):
        yield [int(r.id) for r in runs]


def state_cell(sync_id: int) -> str:
    return f'#failed-operations-grid .ag-row[row-id="{sync_id}"] .ag-cell[col-id="state"]'


def test_an_operator_retries_and_watches_them_resolve_a_viewer_cannot_act(dash_duo, dash_app, console, pg_engine):
    first, second, third, other = console
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text("#read-only-badge, #sign-in-link", "Sign in", timeout=10)
    sign_in(dash_duo, "alice", PASSWORD, "/failed")
    dash_duo.wait_for_contains_text(state_cell(first), "failed", timeout=15)
    assert "alice · operator" in dash_duo.find_element("#signed-in-user").text
    # the window control is the range; the sync type's column says so, from the records' sync_type
    assert dash_duo.find_element("#failed-range").get_attribute("name") == "range"
    assert dash_duo.find_element('#failed-operations-grid .ag-header-cell[col-id="sync_type"]').text == "Sync type"
    assert dash_duo.find_element(
        f'#failed-operations-grid .ag-row[row-id="{first}"] .ag-cell[col-id="sync_type"]').text == "contacts"

    # one operation: tick its box, retry, confirm
    dash_duo.find_element(f'#failed-operations-grid .ag-row[row-id="{first}"] .ag-selection-checkbox input').click()
    dash_duo.wait_for_text_to_equal("#retry-selected-button", "Retry selected (1)", timeout=5)
    dash_duo.find_element("#retry-selected-button").click()
    dash_duo.wait_for_contains_text("#retry-confirm-text", "Retry the 1 selected operations?", timeout=5)
    dash_duo.find_element("#retry-confirm-button").click()
    dash_duo.wait_for_contains_text("#retry-result", "1 of 1 queued", timeout=10)
    dash_duo.wait_for_contains_text(state_cell(first), "resolved", timeout=30)
    assert dash_duo.find_element(
        f'#failed-operations-grid .ag-row[row-id="{first}"] .ag-cell[col-id="attempts"]').text == "1 / 3"

    # every failure of one CRM: filter, "retry all matching", confirm
    dash_duo.select_dcc_dropdown("#failed-crm-source", value="retrytest")
    dash_duo.find_element("body").send_keys(Keys.ESCAPE)
    dash_duo.wait_for_text_to_equal("#retry-matching-button", "Retry all matching (2)", timeout=10)
    dash_duo.find_element("#retry-matching-button").click()
    dash_duo.wait_for_contains_text("#retry-confirm-text", "Retry all 2 failed operations", timeout=5)
    dash_duo.find_element("#retry-confirm-button").click()
    dash_duo.wait_for_contains_text("#retry-result", "2 of 2 queued", timeout=10)
    for sync_id in (second, third):
        dash_duo.wait_for_contains_text(state_cell(sync_id), "resolved", timeout=30)
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, f'.ag-row[row-id="{other}"]')  # filtered out
    untouched = queries.operations(pg_engine, queries.OperationFilter(sync_ids=(other,)), 1).iloc[0]
    assert (untouched["state"], untouched["attempts"]) == ("failed", 0)

    dash_duo.wait_for_contains_text("#audit-log-table", "filter crm_source=retrytest", timeout=10)
    audit = dash_duo.find_element("#audit-log-table").text
    assert f"operations {first} " in audit and "alice (operator)" in audit and "2 of 2 queued" in audit

    # the viewer: same page, same rows, nothing to act with
    dash_duo.find_element("#sign-out-button").click()
    dash_duo.wait_for_element("#sign-in-link", timeout=10)
    sign_in(dash_duo, "bob", PASSWORD, "/failed")
    dash_duo.wait_for_contains_text(state_cell(first), "resolved", timeout=15)
    assert "d-none" in dash_duo.find_element("#failed-actions").get_attribute("class")
    assert "bob is a viewer" in dash_duo.find_element("#failed-access-note").text
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, "#failed-operations-grid .ag-selection-checkbox")
    dash_duo.find_element(state_cell(other)).click()  # details still open for a viewer
    dash_duo.wait_for_contains_text("#failed-details-body", "AuthenticationError: token expired", timeout=10)
    assert not dash_duo.find_element("#retry-one-button").is_displayed()
    wait_settled(dash_duo.driver)  # whatever the last clicks set off has answered
    logs = dash_duo.get_logs()
    assert logs == [], "\n".join(e["message"][:400] for e in logs)
