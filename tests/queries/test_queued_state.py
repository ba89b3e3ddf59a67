"""A sync beat has sent that no worker has started yet is "queued", not late, for
up to ``freshness.QUEUED_LIMIT``; then late, saying how long it has been queued. On both table
shapes: beat's own tables (the deployed shape, beat's ``is_due()`` the oracle of when it sent) and
the documented one whose schedule row keeps ``last_run`` (the embedded demo's, moved by its own
``mark_started`` and run by its worker's split start and finish)."""

from __future__ import annotations

import random

import pytest

from dashapp.alerts import rules
from dashapp.alerts.config import AlertConfig
from dashapp.config import load_settings
from dashapp.demo import embedded as demo
from dashapp.payloads import overview as payloads
from dashapp.recording import crm_calls as api_calls
from dashapp.storage import migrate
from dashapp.storage.db import sqlite_engine
from dashapp.storage.sync_tables import metadata
from queries import demo_data, freshness
from queries._sql import bind_time
from queries.clock import utc_now
from queries.crm_status import crm_status
from tests.queries.test_sync_states import NOW, M, S, beat_fires_at, run, schedule
from tests.queries.test_sync_states import warehouse as warehouse  # the fixture


def test_beat_sent_and_no_worker_started_is_queued_then_late(warehouse, app_engine):
    beat, db = warehouse, app_engine
    every_10 = beat.interval(10, "minutes")
    long_ago = NOW - 30 * 24 * 60 * M
    # its run 16 min ago; beat sent the next one 6 min ago and no worker has started it
    waiting = beat.task(every_10, date_changed=long_ago, last_run_at=NOW - 6 * M)
    schedule(db, "hubspot", "contacts", waiting)
    run(db, "hubspot", "contacts", NOW - 16 * M)
    # beat keeps sending (a minute ago) but its last run was 40 min ago: queued past the limit
    stuck = beat.task(every_10, date_changed=long_ago, last_run_at=NOW - M)
    schedule(db, "callrail", "calls", stuck)
    run(db, "callrail", "calls", NOW - 40 * M)
    # beat itself stopped: it last sent the run that started 40 min ago; late, nothing queued
    silent = beat.task(every_10, date_changed=long_ago, last_run_at=NOW - 40 * M - S)
    schedule(db, "genius", "appointments", silent)
    run(db, "genius", "appointments", NOW - 40 * M)

    rows = {r["crm_source"]: r for r in crm_status(db, NOW).to_dict("records")}
    assert {crm: row["state"] for crm, row in rows.items()} == {
        "hubspot": "queued", "callrail": "late", "genius": "late"}
    hubspot = rows["hubspot"]
    # beat's own arithmetic: after the run 16 min ago it sends at NOW - 6 min, the send it recorded
    shadow = beat.task(every_10, date_changed=long_ago, last_run_at=NOW - 16 * M)
    assert beat_fires_at(beat, shadow, NOW - 6 * M)
    assert hubspot["expected_at"].to_pydatetime() == NOW - 6 * M
    # by the grace alone it would be late: the send waiting for a worker is why it is not
    assert NOW - hubspot["expected_at"].to_pydatetime() > hubspot["grace_seconds"] * S
    assert hubspot["state_reason"] == "sent by beat at 2027-03-27 09:54 UTC, waiting for a worker"
    # queued since beat's first send after its run (NOW - 30 min), past the limit: late, and says so
    assert beat_fires_at(beat, beat.task(every_10, date_changed=long_ago, last_run_at=NOW - 40 * M), NOW - 30 * M)
    assert "queued for 30 min" in rows["callrail"]["state_reason"]
    assert 30 * M > freshness.QUEUED_LIMIT
    assert "queued" not in rows["genius"]["state_reason"]

    body = payloads.crm_statuses(db, NOW)
    assert body["states"]["queued"] == 1 and body["states"]["late"] == 2
    assert {c["crm_source"]: c["state_label"] for c in body["crms"]}["hubspot"] == "Queued"
    late = rules.late(rules.Context(db, load_settings({}), AlertConfig(), NOW))
    assert sorted(f.subject for f in late) == ["callrail", "genius"]


@pytest.fixture
def demo_engine(tmp_path):
    engine = sqlite_engine(tmp_path / "demo.sqlite3", "orchestration")
    with engine.begin() as conn:
        metadata.create_all(conn)
    migrate.upgrade(engine)
    writer = api_calls.Writer(engine, flush_seconds=0.05)
    api_calls.use_writer(writer)
    yield engine
    writer.close()
    api_calls.use_writer(None)
    engine.dispose()


def _add_schedule(engine, job: demo.Job, last_run) -> None:
    with engine.begin() as conn:
        demo_data.add_schedule(conn, {
            "name": f"{job.crm}-{job.sync_type}", "crm_source": job.crm, "model_name": job.sync_type, "mode": "delta",
            "enabled": True, "last_run": bind_time(conn, last_run), "recurrence_type": "interval",
            "every": job.live_minutes, "period": "minutes"})


def _state(engine, crm: str, now) -> dict:
    return next(r for r in crm_status(engine, now).to_dict("records") if r["crm_source"] == crm)


def test_the_demo_schedule_row_sent_it_queued_running_then_on_time(demo_engine):
    """The documented shape, driven the way the demo's worker drives it: ``mark_started`` (the send)
    makes it queued, ``start_live_run`` (a worker took it) running, ``finish_live_run`` on time."""
    job = next(j for j in demo.JOBS if j.crm == "hubspot" and j.sync_type == "contacts")
    rng = random.Random(5)
    before = utc_now() - 8 * M
    demo.simulate_run(demo_engine, job, rng, lambda: before, lambda seconds: None)
    _add_schedule(demo_engine, job, before)
    assert job in demo.due_jobs(demo_engine, utc_now(), [job])
    sent = utc_now() - S * 30  # the demo's beat sent it (its run was due 6 min before)
    demo.mark_started(demo_engine, job, sent)
    assert job not in demo.due_jobs(demo_engine, utc_now(), [job])  # sent once, not again
    row = _state(demo_engine, "hubspot", utc_now())
    assert row["state"] == "queued", row["state_reason"]
    assert row["state_reason"].startswith("sent by its schedule at ") and "waiting for a worker" in row["state_reason"]
    assert rules.late(rules.Context(demo_engine, load_settings({}), AlertConfig(), utc_now())) == []

    run_id, started, plan = demo.start_live_run(demo_engine, job, rng)
    assert _state(demo_engine, "hubspot", utc_now())["state"] == "running"
    demo.finish_live_run(demo_engine, job, run_id, started, plan, rng, demo.DemoApi())
    row = _state(demo_engine, "hubspot", utc_now())
    assert row["id"] == run_id and row["state"] in ("on_time", "failing")
    assert row["end_time"] >= row["start_time"]


def test_the_demo_queued_past_the_limit_is_late_and_says_for_how_long(demo_engine):
    job = next(j for j in demo.JOBS if j.crm == "hubspot" and j.sync_type == "contacts")
    now = utc_now()
    demo.simulate_run(demo_engine, job, random.Random(2), lambda: now - 30 * M, lambda seconds: None)
    _add_schedule(demo_engine, job, now - 30 * M)
    demo.mark_started(demo_engine, job, now - 20 * M)  # sent 20 min ago; first due 28 min ago
    row = _state(demo_engine, "hubspot", now)
    first_due = now - 30 * M + job.live_minutes * M
    assert row["state"] == "late" and f"queued for {(now - first_due) / M:.3g} min" in row["state_reason"]
    late = rules.late(rules.Context(demo_engine, load_settings({}), AlertConfig(), now))
    assert [f.subject for f in late] == ["hubspot"]
