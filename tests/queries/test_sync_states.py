"""Every sync's state on a warehouse as it is deployed: beat's tables made by beat's own migrations
in schema ``django``, off the app role's search path; tasks through beat's ORM; the sync tables of
the deployed shape beside them. ``late`` must fire exactly for the syncs beat holds overdue, and
every next sync must be beat's own (``ModelEntry.is_due()`` under a frozen clock is the oracle)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from dashapp.alerts import rules
from dashapp.alerts.config import AlertConfig
from dashapp.config import load_settings
from dashapp.payloads import overview as payloads
from dashapp.storage.db import postgres_engine, psycopg2_url
from queries import table_shape
from queries.crm_status import crm_status
from tests.queries.conftest import owner_sql

S, M, H, D = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
NOW = datetime(2027, 3, 27, 10, 0, tzinfo=UTC)  # a Saturday
SYNC_TABLES = """
CREATE TABLE IF NOT EXISTS orchestration.sync_history (
    id BIGSERIAL PRIMARY KEY, crm_source VARCHAR(50) NOT NULL, sync_type VARCHAR(100) NOT NULL,
    endpoint VARCHAR(255), start_time TIMESTAMPTZ NOT NULL, end_time TIMESTAMPTZ,
    status VARCHAR(20) NOT NULL DEFAULT 'running', records_processed INTEGER NOT NULL DEFAULT 0,
    records_created INTEGER NOT NULL DEFAULT 0, records_updated INTEGER NOT NULL DEFAULT 0,
    records_failed INTEGER NOT NULL DEFAULT 0, error_message TEXT, configuration JSONB DEFAULT '{}',
    performance_metrics JSONB DEFAULT '{}', created_at TIMESTAMPTZ NOT NULL DEFAULT NOW());
CREATE TABLE IF NOT EXISTS orchestration.sync_schedule (
    id BIGSERIAL PRIMARY KEY, source_key VARCHAR(64) NOT NULL, name VARCHAR(128) NOT NULL,
    mode VARCHAR(16) NOT NULL, recurrence_type VARCHAR(16) NOT NULL, every INTEGER, period VARCHAR(16),
    minute VARCHAR(64) DEFAULT '0', hour VARCHAR(64) DEFAULT '*', day_of_week VARCHAR(64) DEFAULT '*',
    day_of_month VARCHAR(64) DEFAULT '*', month_of_year VARCHAR(64) DEFAULT '*', start_at TIMESTAMPTZ,
    end_at TIMESTAMPTZ, enabled BOOLEAN NOT NULL DEFAULT TRUE, options JSONB NOT NULL DEFAULT '{}',
    periodic_task_id INTEGER UNIQUE, created_by_id INTEGER, updated_by_id INTEGER,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    crm_source VARCHAR(64) NOT NULL, model_name VARCHAR(128) NOT NULL);
TRUNCATE orchestration.sync_history, orchestration.sync_schedule RESTART IDENTITY
"""


@pytest.fixture
def warehouse(beat, app_engine):
    owner_sql(beat.url, *SYNC_TABLES.split(";"))
    table_shape.forget(app_engine)
    return beat


def schedule(engine, crm: str, model: str, task_id: int, kind: str = "interval") -> int:
    """A sync_schedule row whose beat task is ``task_id`` (its own fields say little: beat decides)."""
    with engine.begin() as conn:
        return conn.execute(text("""
            INSERT INTO orchestration.sync_schedule (source_key, name, mode, recurrence_type, every, period,
                                                     periodic_task_id, crm_source, model_name)
            VALUES (:crm, :model, 'delta', :kind, 1, 'days', :task, :crm, :model) RETURNING id"""),
            {"crm": crm, "model": model, "kind": kind, "task": task_id}).scalar_one()


def run(engine, crm: str, kind: str, started: datetime, status: str = "success", seconds: int = 60) -> int:
    with engine.begin() as conn:
        return conn.execute(text("""
            INSERT INTO orchestration.sync_history (crm_source, sync_type, start_time, end_time, status)
            VALUES (:crm, :kind, :start, :end, :status) RETURNING id"""),
            {"crm": crm, "kind": kind, "start": started, "status": status,
             "end": None if status == "running" else started + seconds * S}).scalar_one()


def beat_fires_at(beat, task_id: int, moment: datetime) -> bool:
    """Beat holds the task due at ``moment`` and not a second before: it sends it then."""
    return beat.beat_due(task_id, moment)[0] and not beat.beat_due(task_id, moment - S)[0]


def test_late_fires_exactly_for_the_syncs_beat_holds_overdue(warehouse, app_engine):
    beat, db = warehouse, app_engine
    long_ago = NOW - 30 * D
    every_10 = beat.interval(10, "minutes")
    # on time: beat sent it 3 min ago and its run came
    fresh = beat.task(every_10, date_changed=long_ago, last_run_at=NOW - 3 * M)
    schedule(db, "hubspot", "contacts", fresh)
    run(db, "hubspot", "contacts", NOW - 3 * M)
    # beat keeps sending (a minute ago), but the last run was 40 min ago: its worker stopped
    stopped = beat.task(every_10, date_changed=long_ago, last_run_at=NOW - M)
    schedule(db, "callrail", "calls", stopped)
    run(db, "callrail", "calls", NOW - 40 * M)
    # a weekday crontab on a Saturday: its Friday run was the last; Monday is next. Not late
    weekdays = beat.task(beat.crontab("0", "9", day_of_week="1-5"), date_changed=long_ago,
                         last_run_at=NOW - D - H)
    schedule(db, "genius", "appointments", weekdays, "crontab")
    run(db, "genius", "appointments", NOW - D - H)
    # a start ahead, never run: not late
    ahead = beat.task(beat.interval(5, "minutes"), date_changed=long_ago, start_time=NOW + 2 * H)
    schedule(db, "arrivy", "tasks", ahead)
    # disabled, expired, a one-off that ran: paused, never late, however old their last run
    off = beat.task(every_10, date_changed=long_ago, last_run_at=NOW - D, enabled=False)
    schedule(db, "five9", "call_logs", off)
    run(db, "five9", "call_logs", NOW - D)
    expired = beat.task(every_10, date_changed=long_ago, last_run_at=NOW - D, expires=NOW - H)
    schedule(db, "salespro", "jobs", expired)
    run(db, "salespro", "jobs", NOW - D)
    once = beat.task(beat.clocked(NOW - 2 * D), date_changed=long_ago, one_off=True, enabled=False)
    schedule(db, "leadconduit", "leads", once)
    run(db, "leadconduit", "leads", NOW - 2 * D)
    # a one-off clocked an hour ago that never ran: beat should have sent it, nothing ran
    missed = beat.task(beat.clocked(NOW - H), date_changed=long_ago, one_off=True)
    schedule(db, "gsheet", "sheets", missed)
    # a crontab in London, beat alive, the runs stopped two hours ago
    london = beat.task(beat.crontab("*/5", timezone="Europe/London"), date_changed=long_ago,
                       last_run_at=NOW - 2 * M)
    schedule(db, "marketsharp", "contacts", london, "crontab")
    run(db, "marketsharp", "contacts", NOW - 2 * H)
    # a running run: running, not late
    busy = beat.task(every_10, date_changed=long_ago, last_run_at=NOW - 4 * M)
    schedule(db, "salesrabbit", "leads", busy)
    run(db, "salesrabbit", "leads", NOW - 4 * M, "running")

    frame = crm_status(db, NOW)
    rows = {(r["crm_source"], r["sync_type"]): r for r in frame.to_dict("records")}
    states = {pair: row["state"] for pair, row in rows.items()}
    assert states == {
        ("hubspot", "contacts"): "on_time", ("callrail", "calls"): "late", ("genius", "appointments"): "on_time",
        ("arrivy", "tasks"): "on_time", ("five9", "call_logs"): "paused", ("salespro", "jobs"): "paused",
        ("leadconduit", "leads"): "paused", ("gsheet", "sheets"): "late", ("marketsharp", "contacts"): "late",
        ("salesrabbit", "leads"): "running"}

    # every late one: the moment it was expected is a firing beat makes after the sync's last run
    # (a task beside it, on the same schedule, sent then), and that moment is past its grace
    late_tasks = {("callrail", "calls"): (every_10, NOW - 40 * M), ("marketsharp", "contacts"): (
        beat.crontab("*/5", timezone="Europe/London"), NOW - 2 * H)}
    for pair, (made, last_run) in late_tasks.items():
        expected = rows[pair]["expected_at"].to_pydatetime()
        shadow = beat.task(made, date_changed=long_ago, last_run_at=last_run)
        assert beat_fires_at(beat, shadow, expected), (pair, expected)
        assert rows[pair]["overdue_seconds"] == pytest.approx((NOW - expected).total_seconds())
        assert NOW - expected > rows[pair]["grace_seconds"] * S
        assert "no run since" in rows[pair]["state_reason"]
    # beat sent it before its latest run started (that send started it): the next run is expected
    # at beat's own next firing, not at the run's start plus the interval (the queue's delay aside)
    hubspot = rows[("hubspot", "contacts")]
    assert hubspot["expected_at"] == hubspot["next_sync"]
    gsheet = rows[("gsheet", "sheets")]
    assert gsheet["expected_at"].to_pydatetime() == NOW - H and beat.beat_due(missed, NOW)[0]
    assert "beat should have sent it at 2027-03-27 09:00 UTC" in gsheet["state_reason"]
    assert "it has never run" in gsheet["state_reason"]
    # the weekday crontab: beat's next is Monday 09:00 UTC, and beat says not before
    genius = rows[("genius", "appointments")]
    assert genius["expected_at"].to_pydatetime() == datetime(2027, 3, 29, 9, 0, tzinfo=UTC)
    assert beat_fires_at(beat, weekdays, genius["next_sync"].to_pydatetime())
    # every next sync that beat will make is beat's own moment
    for pair, task_id in ((("hubspot", "contacts"), fresh), (("arrivy", "tasks"), ahead),
                          (("callrail", "calls"), stopped), (("marketsharp", "contacts"), london)):
        moment = rows[pair]["next_sync"].to_pydatetime()
        assert moment >= NOW and beat_fires_at(beat, task_id, moment), (pair, moment)
        assert rows[pair]["next_sync_source"] == "beat"
        assert "schema 'django' (off the search path" in rows[pair]["next_sync_note"]
    for pair, task_id in ((("five9", "call_logs"), off), (("salespro", "jobs"), expired),
                          (("leadconduit", "leads"), once)):
        assert pd.isna(rows[pair]["next_sync"]), pair
        assert not any(beat.beat_due(task_id, NOW + later)[0] for later in (0 * S, H, D)), pair

    # the overview: problems first, the late ones by how long they have been overdue
    body = payloads.crm_statuses(db, NOW, limit=3)
    assert [c["crm_source"] for c in body["crms"]] == ["marketsharp", "gsheet", "callrail"]
    assert [c["state_label"] for c in body["crms"]] == ["Late"] * 3
    assert body["states"] == {"late": 3, "failing": 0, "unknown": 0, "running": 1, "queued": 0, "on_time": 3,
                              "paused": 3}
    assert body["total"] == 10 and len(body["crms"]) == 3


def test_unreadable_beat_tables_say_permission_denied_and_the_grant(warehouse, oracle):
    beat = warehouse
    task_id = beat.task(beat.interval(5, "minutes"), date_changed=NOW - D, last_run_at=NOW - M)
    role = f"states_reader_{uuid.uuid4().hex[:10]}"
    database = psycopg2_url(oracle.url).database
    owner_sql(oracle.url, f'CREATE ROLE "{role}" LOGIN', f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
              f'GRANT USAGE ON SCHEMA orchestration TO "{role}"',
              f'GRANT SELECT ON ALL TABLES IN SCHEMA orchestration TO "{role}"')
    owner = postgres_engine(oracle.url, "orchestration")
    schedule(owner, "hubspot", "contacts", task_id)
    run(owner, "hubspot", "contacts", NOW - 2 * M)
    owner.dispose()
    reader = postgres_engine(psycopg2_url(oracle.url).set(username=role, password=None).render_as_string(
        hide_password=False), "orchestration")
    try:
        row = crm_status(reader, NOW).to_dict("records")[0]
        note = row["next_sync_note"]
        assert row["next_sync_source"] == "schedule" and "permission denied" in note and "does not exist" not in note
        grant = re.search(r"GRANT SELECT ON (.*?) TO", note)
        assert grant and "django_celery_beat_clockedschedule" in grant.group(1)
        # anyone but an operator is told it is a permission, not which role or tables
        public = payloads.crm_statuses(reader, NOW, details=False)["crms"][0]["sync_types"][0]["next_sync_note"]
        assert table_shape.PERMISSION_SHORT in public and "GRANT" not in public and role not in public
        # an alert, which anyone may read, the same: the sync is late by its schedule row's own fields
        late = rules.late(rules.Context(reader, load_settings({}), AlertConfig(), NOW + 2 * D))
        assert late and all(table_shape.PERMISSION_SHORT in f.summary and "GRANT" not in f.summary
                            and role not in f.summary for f in late)
        owner_sql(oracle.url, *(s for s in re.findall(r"GRANT [^;]+;", note)))
        table_shape.forget(reader)
        row = crm_status(reader, NOW).to_dict("records")[0]
        assert row["next_sync_source"] == "beat"
        assert row["next_sync"].to_pydatetime() == NOW - M + 5 * M  # beat's: last sent a minute ago
    finally:
        reader.dispose()
        owner_sql(oracle.url, f'DROP OWNED BY "{role}"', f'DROP ROLE "{role}"')
