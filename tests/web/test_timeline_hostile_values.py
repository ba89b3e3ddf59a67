"""The timeline's app-table events with whatever the app's tables can hold (a 1 MB reason, '' and
``\\r`` in names, year 1 and year 9999 times, an attempt whose operation row is gone, 5,000 CRMs
throttled at once): every kind answers 200, bounded texts, the counts computed from the rows
written; on PostgreSQL (both shapes) and SQLite. ``tests/properties/test_any_value.py`` covers the
runs' side (incidents, late spans) through ``/api/timeline?range=30d&limit=1000``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from dashapp.storage.app_tables import api_calls, breaker_events, failed_operations, health_changes, operation_attempts
from queries._sql import app_db
from queries.clock import utc_now
from queries.health_changes import DETAIL_CHARS
from queries.health_changes import events as health_change_events
from queries.timeline_app import REASON_CHARS
from tests.conftest import empty_app_tables

MB = "é\r\n<script>" + "x" * 1_000_000
CRMS = 5_000
H = timedelta(hours=1)


@pytest.fixture
def client(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    return dash_app.server.test_client()


def test_hostile_rows_on_every_app_kind(client, db):
    now = utc_now().replace(tzinfo=None)
    far = [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59)]
    with app_db(db).begin() as conn:
        for at in [now - H, *far]:
            conn.execute(insert(breaker_events).values(
                occurred_at=at, breaker="\r", crm_source="", from_state="closed", to_state="open",
                failure_count=2**31 - 1, reason=MB, sync_run_id=2**62))
        conn.execute(insert(api_calls), [
            dict(called_at=now - H, crm_source=f"crm{n}", endpoint="", method="GET", status_code=429,
                 duration_ms=0.0) for n in range(CRMS)] + [
            dict(called_at=at, crm_source="", endpoint="\r", method="GET", status_code=429, duration_ms=1e300)
            for at in far])
        conn.execute(insert(failed_operations).values(
            sync_id=7, crm_source="", operation_type="\r", state="abandoned", attempts=3, max_attempts=3,
            last_error=MB, finished_at=now - H, updated_at=now))
        conn.execute(insert(operation_attempts), [
            dict(sync_id=8, attempt=1, task_id="orphan", task_name="t", requested_by="\r", state="resolved",
                 queued_at=now - 2 * H, finished_at=now - H),
            dict(sync_id=7, attempt=3, task_id="far", task_name="t", requested_by="", state="failed",
                 queued_at=far[0], finished_at=far[1])])
        conn.execute(insert(health_changes), [
            dict(at=now - H, service="\r", from_status=None, to_status="weird", detail=MB, previous_id=0),
            dict(at=far[0], service="redis", from_status=None, to_status="healthy", detail=None, previous_id=0)])
    answer = client.get("/api/timeline?range=30d&limit=1000")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    body = answer.get_json()
    # in the window: 1 breaker, CRMS bursts, 1 abandoned, 1 queued + 1 resolved orphan attempt, 1 health change
    assert body["total"] == 1 + CRMS + 1 + 2 + 1
    kinds = {e["kind"] for e in body["events"]}
    assert {"breaker_opened", "rate_limited", "retry_abandoned", "retry_queued", "retry_resolved",
            "health_changed"} <= kinds or len(body["events"]) == 1000
    for kind, field, bound in (("breaker_opened", "reason", REASON_CHARS), ("retry_abandoned", "error", REASON_CHARS)):
        only = client.get(f"/api/timeline?range=30d&kind={kind}").get_json()["events"]
        assert len(only) == 1 and len(only[0][field]) == bound, kind
    # a health change's detail is an operator's (tests/security/test_health_change_disclosure.py): bounded where read
    [health] = client.get("/api/timeline?range=30d&kind=health_changed").get_json()["events"]
    assert health["detail"] is None and len(health["summary"]) < 300
    read = health_change_events(db, utc_now() - 30 * 24 * H, utc_now())
    assert len(read) == 1 and len(read["detail"].iloc[0]) == DETAIL_CHARS
    orphan = client.get("/api/timeline?range=30d&kind=retry_resolved").get_json()["events"]
    assert [(e["run_id"], e["crm_source"], e["by"]) for e in orphan] == [(8, None, "\r")]
    assert len(answer.get_data()) < 500 * 1024  # what test_any_value.py allows any answer


@pytest.mark.parametrize("route", ["/api/timeline", "/api/timeline/lanes"])
@pytest.mark.parametrize("window", ["start=0001-01-01T00:00:00Z&end=0001-01-15T00:00:00Z",
                                    "start=0001-01-01T05:00:00%2B05:00&end=0001-01-02T00:00:00Z",
                                    "start=9999-12-01T00:00:00Z&end=9999-12-31T00:00:00Z"])
def test_windows_at_the_ends_of_time_answer(client, route, window):
    """A window in the first minutes of year 1 (a 429 burst looks 5 minutes before it) or at the end
    of year 9999: an answer, or a 400 naming the parameter, never a 500."""
    answer = client.get(f"{route}?{window}")
    assert answer.status_code in (200, 400), answer.get_data(as_text=True)[:300]
    body = answer.get_json()
    assert body is not None and (answer.status_code == 200 or body["parameter"] in ("start", "end"))
