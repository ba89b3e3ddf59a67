"""What a page retry's audit row says was asked is built on the server from the ids or
the filter; a target the browser puts in its state is ignored."""

from __future__ import annotations

from datetime import timedelta

from queries import failed_operations as queries
from queries.clock import utc_now
from tests.security.conftest import sign_in
from tests.support.callbacks import callback_body
from tests.support.rows import Run, insert_runs


def confirm(client, dash_app, pending: dict) -> str:
    _, (body,) = callback_body(dash_app, "retry-result.children",
                               [{"id": "retry-confirm-button", "property": "n_clicks", "value": 1}],
                               [{"id": "retry-pending", "property": "data", "value": pending}])
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.data[:300]
    return answer.json["response"]["retry-result"]["children"]


def test_the_audit_target_comes_from_the_server(client, dash_app, pg_engine):
    runs = insert_runs(pg_engine, [Run("targettest", "contacts", "failed", timedelta(hours=h), timedelta(hours=h),
                                       error="HTTPError: 502") for h in (1, 2)], utc_now())
    first, second = (int(r.id) for r in runs)
    sign_in(client, "alice")
    assert confirm(client, dash_app, {"ids": [first], "target": "nothing to see here"}) == "1 of 1 queued"
    assert confirm(client, dash_app, {"filter": {"range": "7d", "crm_source": ["targettest"]},
                                      "target": "<b>everything</b> was approved by the CEO"}) == "1 of 1 queued"
    rows = queries.audit(pg_engine, 10).to_dict("records")[::-1]
    targets = [r["target"] for r in rows if r["action"] == "retry"]
    assert targets[0] == f"operations {first}"
    assert targets[1].startswith("filter crm_source=targettest; since ")
    assert not any("CEO" in t or "nothing to see" in t for t in targets)
    assert second  # the filter's match
