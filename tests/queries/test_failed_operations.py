"""The failed-operations queries and JSON on PostgreSQL and SQLite, from rows the test writes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import insert

from dashapp.config import load_settings
from dashapp.errors import BadParameter
from dashapp.payloads import failed as failed_payloads
from dashapp.retries import claiming as retries
from dashapp.storage.app_tables import failed_operations, operation_attempts
from queries import failed_operations as queries
from queries.bad_parameter import FilterError
from queries.clock import utc_now
from tests.conftest import closed_port, empty_app_tables
from tests.support.rows import Run, insert_runs

H = timedelta(hours=1)


@pytest.fixture
def written(db):
    """Four failed or partial runs, a success, and one retry run; two operations acted on."""
    empty_app_tables(db)
    now = utc_now()
    runs = insert_runs(db, [
        Run("hubspot", "contacts", "failed", 2 * H, 2 * H - timedelta(minutes=1), error="HTTPError: 502",
            configuration={"batch_size": 100}),
        Run("callrail", "calls", "partial", 26 * H, 26 * H - timedelta(minutes=1), failed=3,
            error="3 of 40 records rejected"),
        Run("hubspot", "deals", "failed", 240 * H, 240 * H - timedelta(minutes=1), error="old failure"),
        Run("hubspot", "contacts", "success", 3 * H, 3 * H - timedelta(minutes=1)),
        Run("hubspot", "contacts", "failed", 1 * H, 1 * H - timedelta(minutes=1), error="retry failed too"),
        Run("genius", "appointments", "failed", 5 * H, 5 * H - timedelta(minutes=1), error="AuthenticationError"),
    ], now)
    naive = now.replace(tzinfo=None)
    with db.begin() as conn:
        conn.execute(insert(failed_operations), [
            {"sync_id": runs[0].id, "crm_source": "hubspot", "operation_type": "contacts", "state": "failed",
             "attempts": 1, "max_attempts": 3, "last_error": "retry failed too", "updated_at": naive},
            {"sync_id": runs[5].id, "crm_source": "genius", "operation_type": "appointments", "state": "resolved",
             "attempts": 1, "max_attempts": 3, "last_error": None, "updated_at": naive},
        ])
        # runs[4] is the run the first attempt at runs[0] recorded: not an operation of its own
        conn.execute(insert(operation_attempts).values(
            sync_id=runs[0].id, attempt=1, task_id=f"sync-monitor-retry-{runs[0].id}-1", task_name="t",
            requested_by="alice", state="failed", queued_at=naive, run_id=runs[4].id, error="retry failed too"))
    return runs, now


def test_operations_join_the_runs_with_the_app_record(db, written):
    runs, now = written
    week = queries.operations(db, queries.OperationFilter(since=now - timedelta(days=7)), 100)
    assert week["sync_id"].tolist() == [runs[0].id, runs[5].id, runs[1].id]  # newest first
    first = week.iloc[0]
    assert (first["state"], first["attempts"], first["last_error"]) == ("failed", 1, "retry failed too")
    assert first["failed_at"] == pd_time(runs[0].start(now))
    untouched = week.iloc[2]
    assert (untouched["state"], untouched["attempts"], untouched["run_status"]) == ("failed", 0, "partial")
    everything = queries.operations(db, queries.OperationFilter(), 100)
    assert set(everything["sync_id"]) == {runs[i].id for i in (0, 1, 2, 5)}


def pd_time(moment):
    import pandas as pd

    return pd.Timestamp(moment).floor("us")


def test_filters_and_counts(db, written):
    runs, now = written
    week = now - timedelta(days=7)
    f = queries.OperationFilter(since=week, crm_sources=("hubspot", "genius"))
    assert queries.count_by_state(db, f) == {"failed": 1, "queued": 0, "running": 0, "resolved": 1, "abandoned": 0}
    only_failed = queries.OperationFilter(since=week, states=("failed",))
    assert queries.operations(db, only_failed, 10)["sync_id"].tolist() == [runs[0].id, runs[1].id]
    by_type = queries.OperationFilter(sync_types=("deals",))
    assert queries.matching_ids(db, by_type, 10) == [runs[2].id]
    assert queries.matching_ids(db, queries.OperationFilter(), 10) == [runs[i].id for i in (2, 1, 5, 0)]  # oldest first
    with pytest.raises(FilterError, match="state"):
        queries.OperationFilter(states=("bogus",))


def test_the_json_records(db, written):
    runs, now = written
    f = failed_payloads.operation_filter({"range": ["7d"], "state": ["failed,resolved"]}, now)
    data = failed_payloads.operations_json(db, f, 500, 3)
    assert data["total"] == 3 and data["counts"]["failed"] == 2 and data["counts"]["resolved"] == 1
    first = data["operations"][0]
    assert first["id"] == runs[0].id and first["name"] == "HubSpot" and first["sync_type"] == "contacts"
    assert first["payload"] == {"batch_size": 100} and first["max_attempts"] == 3
    assert first["failed_at"] == runs[0].start(now).strftime("%Y-%m-%dT%H:%M:%SZ")
    json.dumps(data)  # serialisable as it is
    with pytest.raises(BadParameter, match="range"):
        failed_payloads.operation_filter({"range": ["2w"]}, now)
    with pytest.raises(BadParameter, match="state"):
        failed_payloads.operation_filter({"state": ["failed,nope"]}, now)


def test_claims_on_both_backends_and_a_broker_that_is_down_gives_them_back(db, written, tmp_path):
    runs, _ = written
    settings = load_settings({"CELERY_BROKER_URL": f"redis://127.0.0.1:{closed_port()}/0",
                              "SQLITE_PATH": str(tmp_path / "x.sqlite3")})
    outcome = retries.retry(db, settings, [runs[1].id, runs[5].id], "alice")
    assert outcome.queued == [] and "broker" in (outcome.error or "")
    assert outcome.skipped == {runs[5].id: "resolved", runs[1].id: "not queued"}
    row = queries.operations(db, queries.OperationFilter(sync_ids=(runs[1].id,)), 1).iloc[0]
    assert (row["state"], row["attempts"]) == ("failed", 0) and row["last_error"].startswith("not queued:")
    assert queries.attempts(db, runs[1].id).empty
