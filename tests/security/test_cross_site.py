"""One check refuses every state-changing request from another site's page: the Dash
callback endpoint (an operator's cookie riding along) as well as the JSON API and the forms."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from queries import failed_operations as queries
from queries.clock import utc_now
from tests.security.conftest import sign_in
from tests.support.callbacks import callback_body
from tests.support.rows import Run, insert_runs

EVIL = [{"Origin": "https://evil.example"}, {"Origin": "null"}, {"Origin": "http://localhost.evil.example"},
        {"Sec-Fetch-Site": "cross-site"}]


@pytest.fixture
def failed_id(pg_engine):
    (run,) = insert_runs(pg_engine, [Run("csrftest", "contacts", "failed", timedelta(hours=1), timedelta(minutes=59),
                                         error="HTTPError: 502", configuration={"records": 1})], utc_now())
    return int(run.id)


def confirm_body(dash_app, sync_id: int) -> list[dict]:
    _, body = callback_body(dash_app, "retry-result.children",
                            [{"id": "retry-confirm-button", "property": "n_clicks", "value": 1}],
                            [{"id": "retry-pending", "property": "data", "value": {"ids": [sync_id]}}])
    return body[0]


@pytest.mark.parametrize("headers", EVIL, ids=["origin", "null-origin", "look-alike-host", "sec-fetch-site"])
def test_a_dash_callback_from_another_site_queues_nothing(client, dash_app, pg_engine, redis_url, queue, failed_id,
                                                          headers):
    assert client.get("/_dash-dependencies").status_code == 200
    sign_in(client, "alice")
    answer = client.post("/_dash-update-component", json=confirm_body(dash_app, failed_id), headers=headers)
    assert answer.status_code == 403 and answer.json["error"].startswith("origin:")
    assert redis.Redis.from_url(redis_url).llen(f"{queue}_retries") == 0
    frame = queries.operations(pg_engine, queries.OperationFilter(sync_ids=(failed_id,)), 1)
    assert frame.iloc[0]["attempts"] == 0
    for path, kwargs in (("/auth/sign-out", {}), ("/api/failed-operations/retry", {"json": {"ids": [failed_id]}}),
                         (f"/api/failed-operations/{failed_id}/retry", {}), ("/api/alerts/1/acknowledge", {})):
        refused = client.post(path, headers=headers, **kwargs)
        assert refused.status_code == 403, path
    # the same callback from this site's own page goes through
    same = client.post("/_dash-update-component", json=confirm_body(dash_app, failed_id),
                       headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200 and same.json["response"]["retry-result"]["children"] == "1 of 1 queued"
    assert redis.Redis.from_url(redis_url).llen(f"{queue}_retries") == 1
