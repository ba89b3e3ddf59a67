"""The JSON routes: shapes of docs/json-api.md, numbers from rows the test wrote."""

from __future__ import annotations

import re

import pytest

from queries.clock import utc_now
from tests.support.rows import edge_case_runs, expected_overview, insert_runs, latest_per_crm

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def client(dash_app, use_engine, db):
    use_engine(db)
    return dash_app.server.test_client()


def test_stats(client, db):
    runs = insert_runs(db, edge_case_runs(), utc_now())
    body = client.get("/api/stats").get_json()
    assert body["overview"] == expected_overview(runs)
    assert ISO_Z.match(body["timestamp"])


def test_crm_status(client, db):
    runs = insert_runs(db, edge_case_runs(), utc_now())
    body = client.get("/api/crm-status").get_json()
    crms = body["crms"]
    latest = latest_per_crm(runs)
    assert sorted(c["crm_source"] for c in crms) == sorted(latest) and body["total"] == len(latest)
    # problems first: the states in their order, worst first (no schedules here: failing before the rest)
    order = ("late", "failing", "unknown", "running", "on_time", "paused")
    assert [order.index(c["state"]) for c in crms] == sorted(order.index(c["state"]) for c in crms)
    failed_last = {crm for crm, run in latest.items() if run.status in ("failed", "partial")}
    assert {c["crm_source"] for c in crms if c["state"] == "failing"} == failed_last
    assert sum(body["states"].values()) == len(latest) and body["states"]["failing"] == len(failed_last)
    only = client.get("/api/crm-status?state=failing&limit=1").get_json()
    assert only["total"] == len(failed_last) and len(only["crms"]) == 1 and only["crms"][0]["state"] == "failing"
    assert [c["crm_source"] for c in client.get("/api/crm-status?q=HUBSP").get_json()["crms"]] == ["hubspot"]
    second = client.get("/api/crm-status?limit=2&offset=2").get_json()["crms"]
    assert [c["crm_source"] for c in second] == [c["crm_source"] for c in crms[2:4]]
    hub_runs = sorted((r for r in runs if r.crm_source == "hubspot" and r.sync_type == "contacts"),
                      key=lambda r: r.start_ago)
    contacts = next(t for t in next(c for c in crms if c["crm_source"] == "hubspot")["sync_types"]
                    if t["sync_type"] == "contacts")
    assert [t["id"] for t in contacts["recent_runs"]] == [r.id for r in hub_runs]  # newest first
    for bad, named in (("state=sideways", "state"), ("limit=0", "limit"), ("offset=-1", "offset")):
        answer = client.get(f"/api/crm-status?{bad}")
        assert answer.status_code == 400 and named in answer.get_json()["error"]
    by_source = {c["crm_source"]: c for c in crms}
    assert by_source["hubspot"]["name"] == "HubSpot"
    assert by_source["new_crm"]["name"] == "new_crm"
    assert by_source["callrail"]["status"] == "queued"
    genius = by_source["genius"]
    assert genius["status"] == "running"
    assert genius["records_processed"] == latest["genius"].processed
    assert ISO_Z.match(genius["last_sync"])
    assert set(genius) >= {"name", "crm_source", "last_sync", "status", "records_processed", "records_created",
                           "records_updated", "records_failed", "duration_seconds", "next_sync"}


def test_recent_syncs(client, db):
    runs = insert_runs(db, edge_case_runs(), utc_now())
    body = client.get("/api/recent-syncs?limit=3").get_json()
    newest = sorted(runs, key=lambda r: r.start_ago)[:3]
    assert [s["id"] for s in body["syncs"]] == [r.id for r in newest]
    assert body["total"] == 3
    partial = next(r for r in runs if r.status == "partial")
    everything = client.get("/api/recent-syncs?limit=500&unknown=ignored").get_json()["syncs"]
    entry = next(s for s in everything if s["id"] == partial.id)
    assert entry["records_processed"] == 0  # NULL in the row counts as 0
    assert entry["error_message"] == partial.error
    assert entry["end_time"].endswith("Z")
    assert client.get("/api/recent-syncs").get_json()["total"] == min(20, len(runs))


@pytest.mark.parametrize("value", ["abc", "0", "501", "-1", "1.5", "9" * 40])
def test_a_bad_limit_is_a_400_naming_the_parameter(client, value):
    response = client.get(f"/api/recent-syncs?limit={value}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("limit:")


def test_a_database_that_cannot_answer_is_a_503_not_a_500(dash_app, use_engine):
    from dashapp.storage.db import postgres_engine

    use_engine(postgres_engine("postgresql://postgres@127.0.0.1:1/nowhere", "orchestration",
                               connect_args={"connect_timeout": 2}))
    response = dash_app.server.test_client().get("/api/stats")
    assert response.status_code == 503
    assert "database unavailable" in response.get_json()["error"]
