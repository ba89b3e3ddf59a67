"""The JSON routes: shapes of docs/json-api.md, numbers from rows the test wrote."""

from __future__ import annotations

import re

import pytest

from queries._sql import utc_now
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
    crms = client.get("/api/crm-status").get_json()["crms"]
    latest = latest_per_crm(runs)
    assert [c["crm_source"] for c in crms] == sorted(latest)
    by_source = {c["crm_source"]: c for c in crms}
    assert by_source["hubspot"]["name"] == "HubSpot"
    assert by_source["new_crm"]["name"] == "New Crm"
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
