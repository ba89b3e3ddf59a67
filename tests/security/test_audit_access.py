"""The audit log names every user and role, so only a signed-in operator reads it (the API
and the /failed page's table); a failed sign-in for a name that is nobody's is recorded, and
logged, without the name (people type passwords there)."""

from __future__ import annotations

import json
import logging

from dashapp.web import ids
from queries import failed_operations as queries
from tests.security.conftest import PASSWORD, sign_in
from tests.support.callbacks import callback_body

TYPED_PASSWORD = "hunter2-typed-into-the-name-field"


def test_the_audit_api_needs_an_operator(client):
    sign_in(client, "alice")  # one row in the audit
    client.post("/auth/sign-out")
    anonymous = client.get("/api/audit")
    assert anonymous.status_code == 401 and "alice" not in anonymous.get_data(as_text=True)
    viewer = client.get("/api/audit", auth=("bob", PASSWORD))
    assert viewer.status_code == 403 and "operator" not in json.dumps(viewer.json.get("audit", ""))
    operator = client.get("/api/audit", auth=("alice", PASSWORD))
    assert operator.status_code == 200 and [r["actor"] for r in operator.json["audit"]][-1] == "alice"


def audit_table(client, dash_app) -> str:
    spec = next(v for k, v in dash_app.callback_map.items() if f"{ids.FAILED_GRID}.rowData" in k)
    inputs = [{**i, "value": {ids.FAILED_RANGE: "7d"}.get(i["id"])} for i in spec["inputs"]]
    _, (body,) = callback_body(dash_app, f"{ids.FAILED_GRID}.rowData", inputs,
                               [{**s, "value": None} for s in spec["state"]])
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200
    return json.dumps(answer.json["response"][ids.FAILED_AUDIT]["children"])


def test_the_failed_page_shows_the_audit_to_operators_only(client, dash_app):
    assert client.get("/_dash-dependencies").status_code == 200
    sign_in(client, "alice")
    client.post("/auth/sign-out")
    anonymous = audit_table(client, dash_app)
    assert "alice" not in anonymous and "Operators see the audit log" in anonymous
    sign_in(client, "bob")
    viewer = audit_table(client, dash_app)
    assert "alice" not in viewer and "(operator)" not in viewer
    client.post("/auth/sign-out")
    sign_in(client, "alice")
    assert "alice (operator)" in audit_table(client, dash_app)


def test_a_failed_sign_in_for_no_user_keeps_no_name(client, pg_engine, caplog):
    with caplog.at_level(logging.INFO):
        answer = sign_in(client, TYPED_PASSWORD, "whatever")
    assert "error=invalid" in answer.headers["Location"]
    sign_in(client, "alice", "wrong password")
    rows = queries.audit(pg_engine, 10).to_dict("records")[::-1]
    assert [(r["actor"], r["result"]) for r in rows] == [("(not a user)", "denied"), ("alice", "denied")]
    assert TYPED_PASSWORD not in caplog.text
    assert all(TYPED_PASSWORD not in str(v) for r in rows for v in r.values())
