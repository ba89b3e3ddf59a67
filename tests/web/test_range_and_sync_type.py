"""The window is ``range`` (or ``start``/``end``) and the sync-type filter ``sync_type`` on
/api/failed-operations, its bulk retry and /api/alerts; the deprecated ``age`` and ``operation_type``
still answer the same. Rows the test writes, read back through the app's routes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import insert

from dashapp.auth.users import add_user
from dashapp.storage.app_tables import alerts
from queries import failed_operations as queries
from queries._sql import app_db
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs

H = timedelta(hours=1)
D = timedelta(days=1)
PASSWORD = "correct horse battery"
# failed or partial runs, by how long ago they started
AGO = {"a": 2 * H, "b": 30 * H, "c": 10 * D, "d": 60 * D, "e": 120 * D}
IN_RANGE = {"24h": {"a"}, "7d": {"a", "b"}, "30d": {"a", "b", "c"}, "90d": {"a", "b", "c", "d"},
            "all": {"a", "b", "c", "d", "e"}}


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def client(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    return dash_app.server.test_client()


@pytest.fixture
def operations(db):
    return write_operations(db)


def write_operations(engine) -> tuple[dict[str, int], object]:
    """Five failed or partial runs (a..e, AGO), two of them contacts, and a success that is none."""
    now = utc_now()
    kinds = {"a": ("hubspot", "contacts", "failed"), "b": ("callrail", "calls", "partial"),
             "c": ("hubspot", "deals", "failed"), "d": ("genius", "appointments", "failed"),
             "e": ("hubspot", "contacts", "failed")}
    runs = insert_runs(engine, [Run(*kinds[k], AGO[k], AGO[k] - timedelta(minutes=1), error=f"run {k} failed")
                            for k in AGO] + [Run("hubspot", "contacts", "success", H, H / 2)], now)
    return {k: int(run.id) for k, run in zip(AGO, runs, strict=False)}, now


def _ids(client, query: str) -> set[int]:
    answer = client.get(f"/api/failed-operations?{query}")
    assert answer.status_code == 200, answer.get_json()
    return {o["id"] for o in answer.get_json()["operations"]}


def test_failed_operations_range_start_and_end(client, operations):
    ids, now = operations
    for chosen, keys in IN_RANGE.items():
        assert _ids(client, f"range={chosen}") == {ids[k] for k in keys}, chosen
        assert _ids(client, f"age={chosen}") == {ids[k] for k in keys}, chosen  # deprecated, the same answer
    assert _ids(client, "") == {ids["a"], ids["b"]}  # the default: 7d
    window = f"start={_iso(now - 35 * D)}&end={_iso(now - D)}"
    assert _ids(client, window) == {ids["b"], ids["c"]}
    assert _ids(client, f"start={_iso(now - 15 * D)}") == {ids["a"], ids["b"], ids["c"]}
    assert _ids(client, f"end={_iso(now - 50 * D)}") == {ids["d"], ids["e"]}
    assert _ids(client, f"{window}&range=24h") == {ids["b"], ids["c"]}  # start/end win over range
    body = client.get(f"/api/failed-operations?{window}").get_json()
    assert body["total"] == 2 and body["counts"]["failed"] == 2


def test_failed_operations_sync_type(client, operations):
    ids, _ = operations
    contacts = {ids["a"], ids["e"]}
    assert _ids(client, "range=all&sync_type=contacts") == contacts
    assert _ids(client, "range=all&operation_type=contacts") == contacts  # deprecated, the same answer
    assert _ids(client, "range=all&sync_type=contacts&operation_type=deals") == contacts  # sync_type wins
    assert _ids(client, "range=30d&sync_type=contacts,deals") == {ids["a"], ids["c"]}
    records = client.get("/api/failed-operations?range=all&sync_type=deals").get_json()["operations"]
    assert [(r["id"], r["sync_type"], r["operation_type"]) for r in records] == [(ids["c"], "deals", "deals")]
    one = client.get(f"/api/failed-operations/{ids['a']}").get_json()
    assert one["sync_type"] == one["operation_type"] == "contacts"


@pytest.mark.parametrize(("path", "query", "named"), [
    ("/api/failed-operations", "range=1y", "range"),
    ("/api/failed-operations", "age=1y", "age"),
    ("/api/failed-operations", "start=yesterday", "start"),
    ("/api/failed-operations", "start=2026-11-20&end=2026-11-19", "end"),
    ("/api/alerts", "range=1y", "range"),
    ("/api/alerts", "age=forever", "age"),
    ("/api/alerts", "end=soon", "end"),
])
def test_a_bad_window_is_a_400_naming_it(client, path, query, named):
    answer = client.get(f"{path}?{query}")
    assert answer.status_code == 400 and answer.get_json()["error"].startswith(f"{named}:"), answer.get_json()


def test_alerts_range_start_and_end(client, db):
    now = utc_now()
    naive = now.replace(tzinfo=None)
    with app_db(db).begin() as conn:
        written = {k: int(conn.execute(insert(alerts).values(
            rule="late", subject=f"crm-{k}", severity="warning", summary=f"alert {k}", state="resolved",
            fired_at=naive - AGO[k], last_seen_at=naive - AGO[k])).inserted_primary_key[0]) for k in AGO}

    def alert_ids(query: str) -> set[int]:
        answer = client.get(f"/api/alerts?{query}")
        assert answer.status_code == 200, answer.get_json()
        return {a["id"] for a in answer.get_json()["alerts"]}

    for chosen, keys in IN_RANGE.items():
        assert alert_ids(f"range={chosen}") == {written[k] for k in keys}, chosen
        assert alert_ids(f"age={chosen}") == {written[k] for k in keys}, chosen  # deprecated, the same answer
    assert alert_ids("") == {written["a"], written["b"]}  # the default: 7d
    assert alert_ids(f"start={_iso(now - 35 * D)}&end={_iso(now - D)}") == {written["b"], written["c"]}
    assert alert_ids(f"end={_iso(now - 50 * D)}") == {written["d"], written["e"]}


def test_the_bulk_retry_filter_takes_range_and_sync_type(dash_app, use_engine, pg_engine, tmp_path, redis_url):
    empty_app_tables(pg_engine)
    ids, _ = write_operations(pg_engine)
    users = tmp_path / "users.json"
    add_user(users, "alice", "operator", PASSWORD)
    queue = f"sm_range_{uuid.uuid4().hex[:8]}"
    use_engine(pg_engine, AUTH_USERS_FILE=str(users), CELERY_BROKER_URL=redis_url, CELERY_QUEUES=queue)
    client = dash_app.server.test_client()

    def bulk(spec: dict):
        return client.post("/api/failed-operations/retry", auth=("alice", PASSWORD), json={"filter": spec})

    answer = bulk({"range": "7d", "sync_type": ["contacts"]})
    assert answer.status_code == 202 and answer.json["queued"] == [ids["a"]]
    # the deprecated names pick the same way: every contacts run but the one already queued
    answer = bulk({"age": "all", "operation_type": "contacts", "sync_type": []})
    assert answer.status_code == 202 and answer.json["queued"] == [ids["e"]]
    answer = bulk({"start": _iso(utc_now() - 35 * D), "end": _iso(utc_now() - D), "sync_type": "deals"})
    assert answer.status_code == 202 and answer.json["queued"] == [ids["c"]]
    assert redis.Redis.from_url(redis_url).llen(f"{queue}_retries") == 3
    for spec, named in (({"range": "1y"}, "range"), ({"range": ["7d", "30d"]}, "range"), ({"end": "x"}, "end")):
        answer = bulk(spec)
        assert answer.status_code == 400 and answer.json["error"].startswith(f"{named}:"), answer.json
    targets = [row["target"] for row in queries.audit(pg_engine, 10).to_dict("records")[::-1]
               if row["action"] == "retry"]
    assert targets[0].startswith("filter sync_type=contacts; since ")
    assert targets[2].startswith("filter sync_type=deals; from ") and targets[2].endswith(" UTC")
