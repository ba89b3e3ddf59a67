"""The app on the tables as the warehouse deploys them: next sync as django-celery-beat computes
it (intervals, crontabs in their own zone across a DST change, one-off, expired and disabled tasks,
start_at), the schedule that runs each sync type, status aliases, a column that goes away, and the
routes that answer before ``db upgrade``. The deployed database runs in Europe/Berlin."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from dashapp.alerts import evaluation as alerts
from dashapp.config import load_settings
from dashapp.payloads import overview as payloads
from dashapp.recording.recorder import close_abandoned, record_sync
from dashapp.storage import migrate
from dashapp.web.routes import ROUTES
from queries.crm_status import crm_status
from queries.overview import overview_counts
from tests.conftest import empty_app_tables
from tests.support import deployed_shape
from tests.support.rows import Run, insert_runs

ROOT = Path(__file__).resolve().parents[2]
M, H = timedelta(minutes=1), timedelta(hours=1)


def row_of(frame, crm: str, kind: str) -> dict:
    rows = frame[(frame["crm_source"] == crm) & (frame["sync_type"] == kind)].to_dict("records")
    assert len(rows) == 1, (crm, kind)
    return rows[0]


def close(moment, expected: datetime) -> None:
    assert abs((moment.to_pydatetime() - expected).total_seconds()) < 0.01, (moment, expected)


def test_next_sync_from_beat_for_every_kind_of_task(deployed_engine):
    db = deployed_engine
    # the Saturday before the US leaves daylight saving time (Sunday 2026-11-01, 02:00 EDT)
    now = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)
    insert_runs(db, [Run("hubspot", "contacts", "success", 5 * M, 4 * M),
                     Run("hubspot", "deals", "failed", 10 * M, 9 * M, error="HTTPError: 500"),
                     Run("callrail", "calls", "success", 30 * M, 29 * M),
                     Run("genius", "appointments", "success", 3 * H, 3 * H - M),
                     Run("arrivy", "tasks", "completed", 2 * H, 2 * H - M),
                     Run("five9", "call_logs", "success", 50 * M, 49 * M),
                     Run("salespro", "jobs", "success", 70 * M, 69 * M)], now)
    every_15 = deployed_shape.beat_task(db, "hubspot contacts", every=15, period="minutes",
                                        last_run_at=now - 5 * M)
    deployed_shape.schedule(db, "hubspot", "contacts", every=15, period="minutes", periodic_task_id=every_15)
    # 09:30 in New York: 13:30 UTC on Saturday (EDT), 14:30 UTC on Sunday (EST)
    morning = deployed_shape.beat_task(db, "hubspot deals", crontab=("30", "9", "*", "*", "*"),
                                       zone="America/New_York", last_run_at=datetime(2026, 10, 31, 13, 30, tzinfo=UTC))
    deployed_shape.schedule(db, "hubspot", "Deal", recurrence_type="crontab", periodic_task_id=morning,
                            cron={"minute": "0", "hour": "3"})
    once = deployed_shape.beat_task(db, "callrail once", every=1, period="hours", one_off=True, total_run_count=1,
                                    last_run_at=now - 30 * M)
    deployed_shape.schedule(db, "callrail", "calls", every=1, period="hours", periodic_task_id=once)
    expired = deployed_shape.beat_task(db, "genius", every=1, period="hours", last_run_at=now - 3 * H,
                                       expires=now - H)
    deployed_shape.schedule(db, "genius", "appointments", every=1, period="hours", periodic_task_id=expired)
    off = deployed_shape.beat_task(db, "arrivy", every=10, period="minutes", enabled=False, last_run_at=now - H)
    deployed_shape.schedule(db, "arrivy", "tasks", every=10, period="minutes", periodic_task_id=off)
    # no beat task: the schedule's own crontab, from a start_at still ahead
    deployed_shape.schedule(db, "five9", "call_logs", recurrence_type="crontab",
                            cron={"minute": "*/20", "hour": "*"}, start_at=now + 2 * H + 5 * M)
    # no beat task and an interval: the latest run plus whole intervals
    deployed_shape.schedule(db, "salespro", "jobs", every=30, period="minutes")

    frame = crm_status(db, now)
    contacts = row_of(frame, "hubspot", "contacts")
    close(contacts["next_sync"], now + 10 * M)
    assert contacts["next_sync_source"] == "beat"
    deals = row_of(frame, "hubspot", "deals")  # model "Deal" runs sync type "deals"
    close(deals["next_sync"], datetime(2026, 11, 1, 14, 30, tzinfo=UTC))
    assert deals["next_sync_source"] == "beat"
    assert "a one-off beat task that already ran" in row_of(frame, "callrail", "calls")["next_sync_note"]
    assert "expired" in row_of(frame, "genius", "appointments")["next_sync_note"]
    assert "its beat task is disabled" in row_of(frame, "arrivy", "tasks")["next_sync_note"]
    five9 = row_of(frame, "five9", "call_logs")
    # beat's rule for a start ahead: not before it, and at it (the schedule has long been due)
    close(five9["next_sync"], now + 2 * H + 5 * M)
    assert five9["next_sync_source"] == "schedule" and five9["state"] == "on_time"
    salespro = row_of(frame, "salespro", "jobs")  # its latest run plus the interval: 40 min ago, and it stays put
    close(salespro["next_sync"], now - 70 * M + 30 * M)
    assert salespro["next_sync_source"] == "schedule"
    assert salespro["state"] == "late" and salespro["overdue_seconds"] == pytest.approx(40 * 60)

    # the day after: 09:30 New York is 14:30 UTC again the day after
    later = crm_status(db, datetime(2026, 11, 1, 15, 0, tzinfo=UTC))
    assert row_of(later, "hubspot", "deals")["next_sync"].to_pydatetime() == datetime(2026, 11, 1, 14, 30, tzinfo=UTC)

    body = payloads.crm_statuses(db, now)
    hubspot = next(c for c in body["crms"] if c["crm_source"] == "hubspot")
    assert hubspot["last_sync"] == "2026-10-31T19:55:00Z" and hubspot["sync_type"] == "contacts"
    assert hubspot["next_sync"] == "2026-10-31T20:10:00Z" and hubspot["next_sync_source"] == "beat"
    assert hubspot["worst_status_class"] == "failed"  # deals failed: the CRM's row says so
    assert [t["sync_type"] for t in hubspot["sync_types"]] == ["deals", "contacts"]
    assert {c["crm_source"] for c in body["crms"]} == {"hubspot", "callrail", "genius", "arrivy", "five9", "salespro"}
    arrivy = next(c for c in body["crms"] if c["crm_source"] == "arrivy")
    assert arrivy["status"] == "completed" and arrivy["status_class"] == "success"

    states = {(r["crm_source"], r["sync_type"]): r["state"] for r in frame.to_dict("records")}
    assert states == {("hubspot", "contacts"): "on_time", ("hubspot", "deals"): "failing",
                      ("callrail", "calls"): "paused", ("genius", "appointments"): "paused",
                      ("arrivy", "tasks"): "paused", ("five9", "call_logs"): "on_time", ("salespro", "jobs"): "late"}


def test_a_scheduled_run_names_its_schedule(deployed_engine):
    db = deployed_engine
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    nightly = deployed_shape.beat_task(db, "full", crontab=("0", "2", "*", "*", "*"), zone="Europe/Berlin",
                                       last_run_at=datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    schedule_id = deployed_shape.schedule(db, "hubspot", "contacts", recurrence_type="crontab", mode="full",
                                          periodic_task_id=nightly)
    hourly = deployed_shape.beat_task(db, "delta", every=1, period="hours", last_run_at=now - 10 * M)
    deployed_shape.schedule(db, "hubspot", "contacts", periodic_task_id=hourly)
    insert_runs(db, [Run("hubspot", "full_scheduled", "success", 11 * H, 10 * H,
                         configuration={"schedule_id": schedule_id})], now)
    frame = crm_status(db, now)
    # 02:00 in Berlin (CET, UTC+1) is 01:00 UTC: the nightly schedule's, not the hourly one's
    close(row_of(frame, "hubspot", "full_scheduled")["next_sync"], datetime(2026, 12, 1, 1, 0, tzinfo=UTC))


def test_a_column_that_goes_away_is_read_again(deployed_engine):
    db = deployed_engine
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    insert_runs(db, [Run("hubspot", "contacts", "success", 5 * M, 4 * M)], now)
    deployed_shape.schedule(db, "hubspot", "contacts", recurrence_type="crontab", cron={"minute": "15", "hour": "*"})
    close(row_of(crm_status(db, now), "hubspot", "contacts")["next_sync"], now + 15 * M)
    with db.begin() as conn:  # the shape read above had `minute`; now it is gone
        conn.execute(text("ALTER TABLE orchestration.sync_schedule DROP COLUMN minute"))
    row = row_of(crm_status(db, now), "hubspot", "contacts")
    close(row["next_sync"], now - 4 * M)  # every minute: the first minute after its latest run (5 min ago)
    with db.begin() as conn:
        conn.execute(text("DROP TABLE orchestration.sync_schedule"))
    assert "does not exist" in row_of(crm_status(db, now), "hubspot", "contacts")["next_sync_note"]


def test_statuses_by_class_and_a_dead_workers_run(db):
    now = datetime.now(UTC)
    insert_runs(db, [Run("hubspot", "contacts", "completed", 2 * H, 2 * H - M),
                     Run("hubspot", "contacts", "in_progress", 3 * H, None),
                     Run("hubspot", "contacts", "exploded", H, 50 * M)], now)
    with record_sync("hubspot", "deals", db=db, clock=lambda: now - 30 * M, flush_seconds=0) as run:
        run.add(processed=5)
    counts = overview_counts(db, now)
    assert (counts.completed_today, counts.active_syncs, counts.failed_today) == (2, 1, 0)
    closed = close_abandoned(db, now - 2 * H, "worker restarted")
    assert closed == 1
    counts = overview_counts(db, now)
    assert (counts.active_syncs, counts.failed_today) == (0, 1)  # counted, though it never closed itself
    assert counts.success_rate == round(2 * 100 / 3, 2)


def test_history_status_filter_takes_aliases(client_on):
    client, db = client_on
    now = datetime.now(UTC)
    insert_runs(db, [Run("hubspot", "contacts", "completed", 2 * H, 2 * H - M),
                     Run("hubspot", "contacts", "success", 3 * H, 3 * H - M),
                     Run("hubspot", "contacts", "weird", 4 * H, 4 * H - M)], now)
    rows = client.get("/export/sync-history.csv?range=all&status=success").get_data(as_text=True).splitlines()
    assert len(rows) == 3 and any(",completed," in r for r in rows)
    rows = client.get("/export/sync-history.csv?range=all&status=weird").get_data(as_text=True).splitlines()
    assert len(rows) == 2  # an unknown value stays visible, as it is


@pytest.fixture
def client_on(dash_app, use_engine, db):
    use_engine(db)
    return dash_app.server.test_client(), db


def test_before_db_upgrade_nothing_503s(client_on):
    client, db = client_on
    with db.begin() as conn:
        if db.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA IF EXISTS sync_monitor CASCADE"))
        else:
            for name in [r[0] for r in conn.exec_driver_sql("SELECT name FROM main.sqlite_master WHERE type='table'")]:
                conn.exec_driver_sql(f'DROP TABLE main."{name}"')
    now = datetime.now(UTC)
    runs = insert_runs(db, [Run("hubspot", "contacts", "failed", 2 * H, 2 * H - M, error="boom"),
                            Run("genius", "jobs", "partial", 3 * H, 3 * H - M, error="2 rejected"),
                            Run("genius", "jobs", "success", H, H - M)], now)
    body = client.get("/api/failed-operations?range=24h")
    assert body.status_code == 200
    data = body.get_json()
    assert [o["id"] for o in data["operations"]] == [runs[0].id, runs[1].id]
    assert data["counts"]["failed"] == 2 and "db upgrade" in data["note"]
    assert client.get(f"/api/failed-operations/{runs[0].id}").status_code == 200
    alerts_body = client.get("/api/alerts")
    assert alerts_body.status_code == 200 and alerts_body.get_json()["alerts"] == []
    assert "db upgrade" in alerts_body.get_json()["note"]
    every_get = [re.sub(r"<[^>]+>", str(runs[0].id), route.path) for route in ROUTES
                 if route.method == "GET" and not route.path.startswith("/auth")]
    pages = ["/", "/history", "/performance", "/errors", "/api-usage", "/failed", "/alerts", "/health"]
    for stage in ("before", "after"):
        for path in every_get + pages:
            answer = client.get(path)
            expected = 403 if path.startswith("/api/audit") else 200  # the audit is for operators (none here)
            assert answer.status_code == expected, (stage, path, answer.get_data(as_text=True)[:300])
        migrate.upgrade(db)
    assert "note" not in client.get("/api/failed-operations?range=24h").get_json()
    assert client.get("/api/failed-operations?range=24h").get_json()["counts"]["failed"] == 2


def test_late_alert_from_beats_interval(deployed_engine, tmp_path):
    db = deployed_engine
    empty_app_tables(db)
    now = datetime.now(UTC)
    task = deployed_shape.beat_task(db, "hubspot", every=10, period="minutes", last_run_at=now - 2 * M)
    deployed_shape.schedule(db, "hubspot", "contacts", periodic_task_id=task)
    insert_runs(db, [Run("hubspot", "contacts", "completed", 35 * M, 34 * M)], now)
    outcome = alerts.evaluate(db, load_settings({"SQLITE_PATH": str(tmp_path / "x.sqlite3")}), now)
    assert "late:hubspot" in outcome.fired


@pytest.mark.slow
def test_alerts_check_command_on_the_deployed_tables(deployed_url, deployed_engine):
    db = deployed_engine
    now = datetime.now(UTC)
    task = deployed_shape.beat_task(db, "genius", every=5, period="minutes", last_run_at=now - M)
    deployed_shape.schedule(db, "genius", "appointments", periodic_task_id=task)
    insert_runs(db, [Run("genius", "appointments", "success", 40 * M, 39 * M)], now)
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": deployed_url, "HOME": str(ROOT)}
    for command in (["db", "upgrade"], ["alerts", "check"]):
        done = subprocess.run([sys.executable, "app.py", *command], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    with db.connect() as conn:
        fired = conn.execute(text("SELECT rule, subject, severity FROM sync_monitor.alerts"
                                  " WHERE state = 'firing'")).all()
    assert ("late", "genius", "critical") in [tuple(r) for r in fired]


def test_running_types_carry_their_expected_duration_and_eta(db):
    now = datetime.now(UTC).replace(microsecond=0)
    history = [Run("hubspot", "contacts", "success", (i + 1) * H, (i + 1) * H - s * timedelta(seconds=1))
               for i, s in enumerate((90, 100, 110, 100, 100))]
    insert_runs(db, [*history, Run("hubspot", "contacts", "in_progress", timedelta(seconds=50), None),
                     Run("genius", "jobs", "success", 2 * H, 2 * H - 60 * timedelta(seconds=1)),
                     Run("genius", "jobs", "running", 10 * M, None)], now)
    crms = {c["crm_source"]: c for c in payloads.crm_statuses(db, now)["crms"]}
    contacts = crms["hubspot"]["sync_types"][0]
    assert contacts["status_class"] == "running" and contacts["expected_seconds"] == pytest.approx(100)
    assert contacts["progress_percent"] == pytest.approx(50, abs=1) and contacts["overdue"] is False
    assert contacts["eta"] == (now - timedelta(seconds=50) + timedelta(seconds=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert crms["hubspot"]["expected_seconds"] == pytest.approx(100)  # the CRM's entry: its newest run's
    jobs = crms["genius"]["sync_types"][0]
    assert jobs["overdue"] is True and jobs["expected_seconds"] == pytest.approx(60)  # 10 min against 1 min


def test_beat_rows_its_validators_would_refuse_give_a_note_not_an_error(deployed_engine, dash_app, use_engine):
    """Values a database holds though beat's forms would refuse them: every sync still gets a
    state, its note says what cannot be read, and /api/crm-status answers 200."""
    db = deployed_engine
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    odd = {
        "badcron": {"crontab": ("61", "*", "*", "*", "*")},
        "badzone": {"crontab": ("0", "9", "*", "*", "*"), "zone": "Mars/Olympus_Mons"},
        "badperiod": {"every": 5, "period": "fortnights"},
        "zeroevery": {"every": 0, "period": "minutes"},
        "hugeevery": {"every": 2_000_000_000, "period": "days"},
    }
    for crm, kind in odd.items():
        task = deployed_shape.beat_task(db, crm, last_run_at=now - H, **kind)
        deployed_shape.schedule(db, crm, "contacts", periodic_task_id=task)
        insert_runs(db, [Run(crm, "contacts", "success", H, H - M)], now)
    rows = {r["crm_source"]: r for r in crm_status(db, now).to_dict("records")}
    assert set(rows) == set(odd)
    assert "cannot be read" in rows["badcron"]["next_sync_note"]
    assert "'Mars/Olympus_Mons' is not known" in rows["badzone"]["next_sync_note"]
    assert "every=5 period='fortnights'" in rows["badperiod"]["next_sync_note"]
    assert "every=0" in rows["zeroevery"]["next_sync_note"]
    huge = rows["hugeevery"]["next_sync_note"]
    assert "too long" in huge or "cannot be computed" in huge
    # beat could not fire them either: unknown (with why), neither late nor a pause someone chose
    assert {r["state"] for r in rows.values()} == {"unknown"}
    assert rows["badcron"]["state_reason"].startswith("its schedule cannot be read: ")
    # a schedule naming a task beat does not have; a task whose kwargs hold 1e400 (JSON infinity)
    deployed_shape.schedule(db, "ghost", "contacts", periodic_task_id=None)
    with db.begin() as conn:
        conn.execute(text("ALTER TABLE orchestration.sync_schedule DROP CONSTRAINT IF EXISTS "
                          "sync_schedule_periodic_task_id_fkey"))
        conn.execute(text("UPDATE orchestration.sync_schedule SET periodic_task_id = 999999 "
                          "WHERE crm_source = 'ghost'"))
        conn.execute(text("UPDATE django_celery_beat_periodictask SET kwargs = '{\"schedule_id\": 1e400}'"))
    deployed_shape.schedule(db, "unlinked", "contacts", every=5, period="minutes")
    insert_runs(db, [Run("ghost", "contacts", "success", H, H - M), Run("unlinked", "contacts", "success", M, 0 * M)],
                now)
    rows = {r["crm_source"]: r for r in crm_status(db, now).to_dict("records")}
    assert rows["ghost"]["state"] == "unknown" and "#999999 is not in beat's tables" in rows["ghost"]["state_reason"]
    assert rows["unlinked"]["state"] == "on_time" and rows["unlinked"]["next_sync_source"] == "schedule"
    use_engine(db)
    answer = dash_app.server.test_client().get("/api/crm-status")
    assert answer.status_code == 200 and answer.get_json()["total"] == len(odd) + 2


def test_beat_times_at_the_ends_of_what_postgresql_holds(deployed_engine, dash_app, use_engine):
    """±infinity and years 1 and 9999 in beat's times: every sync gets a state and a note, and
    /api/crm-status answers 200 (the driver reads ±infinity as the ends of datetime's range)."""
    db = deployed_engine
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    cases = {"never_expires": ("expires", "infinity"), "started_long_ago": ("start_time", "-infinity"),
             "ran_at_the_end": ("last_run_at", "infinity"), "ran_in_year_one": ("last_run_at", "0001-01-01 00:00+00"),
             "starts_in_9999": ("start_time", "9999-12-31 00:00+00")}
    for crm, (column, value) in cases.items():
        task = deployed_shape.beat_task(db, crm, crontab=("0", "9", "*", "*", "*"), zone="Europe/London",
                                        last_run_at=now - H)
        with db.begin() as conn:
            conn.execute(text(f"UPDATE django_celery_beat_periodictask SET {column} = '{value}' WHERE id = :id"),
                         {"id": task})
        deployed_shape.schedule(db, crm, "contacts", recurrence_type="crontab", periodic_task_id=task)
        insert_runs(db, [Run(crm, "contacts", "success", H, H - M)], now)
    rows = {r["crm_source"]: r for r in crm_status(db, now).to_dict("records")}
    assert set(rows) == set(cases)
    assert rows["never_expires"]["state"] == "on_time"  # 09:00 London tomorrow, forever
    assert rows["never_expires"]["next_sync"].to_pydatetime() == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert rows["started_long_ago"]["state"] == "on_time"
    assert rows["starts_in_9999"]["state"] == "on_time" and "9999-12-31" in rows["starts_in_9999"]["state_reason"]
    # year 1 in London's local mean time is year 0: celery's crontab (and so beat) cannot compute it
    assert rows["ran_in_year_one"]["state"] == "unknown"
    assert "cannot be computed" in rows["ran_in_year_one"]["state_reason"]
    for row in rows.values():
        assert row["next_sync_note"] and row["state_reason"]
    use_engine(db)
    answer = dash_app.server.test_client().get("/api/crm-status")
    assert answer.status_code == 200 and answer.get_json()["total"] == len(cases)
