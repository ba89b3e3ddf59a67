"""Issue 23 item 9a: refusals do not flood the audit log. Refused actions and refused or failed
sign-ins are counted summaries (one row per source, actor, action, result, detail and minute, with
``repeats``), so 80 anonymous requests leave the real entries among the page's latest 50."""

from __future__ import annotations

import json
from datetime import timedelta

from queries._sql import utc_now
from tests.security.conftest import PASSWORD, sign_in
from tests.support.rows import Run, insert_runs


def summed(rows: list[dict], **match: str) -> tuple[int, int]:
    """How many rows match, and the requests they count."""
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return len(found), sum(r["repeats"] for r in found)


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
