"""Refusals do not flood the audit log. Refused actions and refused or failed
sign-ins are counted summaries (one row per source, actor, action, result, detail and minute, with
``repeats``), so 80 anonymous requests leave the real entries among the page's latest 50."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from queries.clock import utc_now
from tests.security.conftest import PASSWORD, sign_in
from tests.support.rows import Run, insert_runs


def summed(rows: list[dict], **match: str) -> tuple[int, int]:
    """How many rows match, and the requests they count."""
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return len(found), sum(r["repeats"] for r in found)


@pytest.mark.slow
def test_80_refused_requests_leave_the_real_entries(client, dash_app, pg_engine, app_env):
    runs = insert_runs(pg_engine, [Run("floodtest", "contacts", "failed", timedelta(hours=h), timedelta(hours=h),
                                       error="HTTPError: 502", configuration={"records": 1}) for h in (1, 2, 3)],
                       utc_now())
    ids = [int(r.id) for r in runs]
    sign_in(client, "alice")
    for sync_id in ids:  # three real actions
        assert client.post(f"/api/failed-operations/{sync_id}/retry").status_code == 202
    stranger = dash_app.server.test_client()
    for n in range(80):
        assert stranger.post(f"/api/failed-operations/{ids[n % 3]}/retry").status_code == 401
    for n in range(30):  # wrong passwords from many addresses, for a name that is nobody's
        stranger.post("/auth/sign-in", data={"username": f"nobody{n}", "password": "x"},
                      environ_base={"REMOTE_ADDR": f"10.9.0.{n}"})

    rows = client.get("/api/audit?limit=50").json["audit"]
    real = [r for r in rows if r["actor"] == "alice"]
    assert [(r["action"], r["result"], r["target"], r["repeats"]) for r in real][::-1] == [
        ("sign_in", "ok", "", 1), *(("retry", "ok", f"operation {i}", 1) for i in ids)]
    count, requests = summed(rows, actor="anonymous", action="retry", result="denied", source="api")
    assert 1 <= count <= 2 and requests == 80  # a minute's end may split the summary in two
    count, requests = summed(rows, actor="(not a user)", action="sign_in", detail="failed")
    assert 1 <= count <= 2 and requests == 30
    assert len(rows) <= 4 + 4

    # the page's audit table shows the count
    from dashapp.web.pages.failed import _audit_table

    shown = json.dumps(_audit_table(rows, "UTC").to_plotly_json(), default=lambda o: o.to_plotly_json(),
                       ensure_ascii=False)
    counted = [r["repeats"] for r in rows if r["repeats"] > 1]
    assert counted and all(f" ×{n:,}" in shown for n in counted)


def test_successful_actions_stay_one_row_each(client, pg_engine, app_env):
    for _ in range(3):
        assert sign_in(client, "alice", PASSWORD).status_code == 303
    rows = client.get("/api/audit").json["audit"]
    assert [(r["action"], r["result"], r["repeats"]) for r in rows] == [("sign_in", "ok", 1)] * 3


def test_varied_refusals_never_push_an_entry_out(client, pg_engine, app_env):
    """Refusals that differ in action and detail make a summary row each; the latest entries stay,
    with the newest summaries (at most ``limit``) beside them."""
    from dashapp import runtime
    from dashapp.auth import audit

    assert sign_in(client, "alice", PASSWORD).status_code == 303
    for n in range(120):
        audit.record(runtime.engine(), None, ("retry", "acknowledge", "resolve")[n % 3], "denied",
                     detail=f"variant {n}", source="api")
    rows = client.get("/api/audit?limit=50").json["audit"]
    assert [(r["actor"], r["action"], r["result"]) for r in rows if r["repeats"] == 1 and r["result"] == "ok"] == [
        ("alice", "sign_in", "ok")]
    summaries = [r["detail"] for r in rows if r["result"] == "denied"]
    assert summaries == [f"variant {n}" for n in range(119, 69, -1)]  # the newest 50, newest first
    assert len(client.get("/api/audit?limit=5").json["audit"]) == 1 + 5


def test_the_audit_query_keeps_entries_on_every_backend(db):
    from queries import audit_log, failed_operations
    from tests.conftest import empty_app_tables

    empty_app_tables(db)
    first = utc_now().replace(tzinfo=None, microsecond=0) - timedelta(hours=1)
    for n in range(4):
        audit_log.add_entry(db, at=first + timedelta(minutes=n), actor="alice", role="operator", action="retry",
                            target=f"operation {n}", operations=1, result="ok", detail="", source="api")
    for n in range(10):  # refusals: three older than the entries shown, seven among and after them
        audit_log.add_repeat(db, summary_key=f"key {n}", at=first + timedelta(minutes=n - 3, seconds=30),
                             actor="anonymous", role="none", action="retry", target="", operations=0,
                             result="denied", detail=f"variant {n}", source="api")
    rows = failed_operations.audit(db, 3).to_dict("records")
    assert [r["target"] for r in rows if r["result"] == "ok"] == ["operation 3", "operation 2", "operation 1"]
    # the refusals since the oldest entry shown (operation 1, at minute 1), newest first, at most 3
    assert [r["detail"] for r in rows if r["result"] == "denied"] == ["variant 9", "variant 8", "variant 7"]
    shown = failed_operations.audit(db, 10).to_dict("records")
    assert len([r for r in shown if r["result"] == "ok"]) == 4
    assert [r["detail"] for r in shown if r["result"] == "denied"] == [f"variant {n}" for n in range(9, -1, -1)]
