"""record_sync, the write API of production sync code, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dashapp.recording.recorder import close_abandoned, record_sync
from dashapp.storage.sync_tables import sync_history
from queries.clock import utc_now
from queries.overview import overview_counts


def row(db, run_id):
    with db.connect() as conn:
        return conn.execute(select(sync_history).where(sync_history.c.id == run_id)).mappings().one()


def test_a_clean_exit_records_success_with_counts(db):
    with record_sync("hubspot", "contacts", endpoint="/crm/v3/objects/contacts", db=db,
                     configuration={"batch_size": 100}) as run:
        opened = row(db, run.id)
        run.add(processed=80, created=30, updated=50)
        run.add(processed=20, created=20, failed=0)
    assert opened["status"] == "running" and opened["end_time"] is None
    closed = row(db, run.id)
    assert closed["status"] == "success" and closed["error_message"] is None
    assert (closed["records_processed"], closed["records_created"], closed["records_updated"]) == (100, 50, 50)
    assert closed["endpoint"] == "/crm/v3/objects/contacts"
    assert closed["configuration"] == {"batch_size": 100}
    assert closed["end_time"] >= closed["start_time"]
    assert closed["performance_metrics"]["duration_seconds"] >= 0


def test_an_exception_records_failed_keeps_the_message_and_reraises(db):
    with pytest.raises(TimeoutError, match="read timed out"), \
            record_sync("callrail", "calls", db=db) as run:
        run.add(processed=5)
        raise TimeoutError("read timed out after 30 s")
    closed = row(db, run.id)
    assert closed["status"] == "failed"
    assert closed["error_message"] == "TimeoutError: read timed out after 30 s"
    assert closed["records_processed"] == 5 and closed["end_time"] is not None


def test_mark_partial_records_partial_with_the_reason(db):
    with record_sync("genius", "appointments", db=db) as run:
        run.add(processed=10, created=7, failed=3)
        run.mark_partial("3 of 10 records rejected")
    closed = row(db, run.id)
    assert (closed["status"], closed["error_message"], closed["records_failed"]) == \
        ("partial", "3 of 10 records rejected", 3)
    assert overview_counts(db, utc_now()).partial_today == 1


def test_counts_reach_the_open_row_while_the_run_lasts(db):
    moments = iter(utc_now() + timedelta(seconds=s) for s in range(0, 100, 10))
    with record_sync("five9", "call_logs", db=db, clock=lambda: next(moments), flush_seconds=5) as run:
        run.add(processed=42)  # 10 s after the open: past flush_seconds, so written
        in_flight = row(db, run.id)
    assert in_flight["status"] == "running" and in_flight["records_processed"] == 42
    assert overview_counts(db, utc_now()).active_syncs == 0


def test_a_simulated_clock_backfills_history(db):
    start = utc_now() - timedelta(days=3)
    clock = iter([start, start + timedelta(seconds=90)])
    with record_sync("arrivy", "tasks", db=db, clock=lambda: next(clock)) as run:
        pass
    closed = row(db, run.id)
    assert (closed["end_time"] - closed["start_time"]).total_seconds() == pytest.approx(90)


def test_close_abandoned_closes_only_old_open_runs(db):
    old_clock = iter([utc_now() - timedelta(hours=2)])
    context = record_sync("salespro", "estimates", db=db, clock=lambda: next(old_clock))
    old = context.__enter__()  # a worker that died: never exits
    with record_sync("salespro", "estimates", db=db) as fresh:
        fresh_id = fresh.id
        assert close_abandoned(db, utc_now() - timedelta(minutes=10), "WorkerLost: died") == 1
    assert row(db, old.id)["status"] == "failed" and row(db, old.id)["error_message"] == "WorkerLost: died"
    assert row(db, fresh_id)["status"] == "success"
