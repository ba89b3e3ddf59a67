"""``GET /api/timeline``'s ``late_started`` / ``late_ended``: the freshness rule over past run starts,
from runs and schedules the test writes (an interval schedule, a sync no schedule runs, a crontab
one, whose firings come from celery's own crontab), with the expected spans computed here from the
same rows; on PostgreSQL (both shapes: the deployed one reads the plans from beat's tables) and
SQLite."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from dashapp.display import iso_utc
from queries.clock import utc_now
from tests.support.rows import Run, insert_runs, insert_schedules

H = timedelta(hours=1)
M = timedelta(minutes=1)
GRACE = timedelta(minutes=5)  # every run below lasts 1 min: the grace is its floor, 5 min
DAY = 24 * H


@pytest.fixture
def client(dash_app, use_engine, db):
    use_engine(db)
    return dash_app.server.test_client()


def write(db, now) -> dict[tuple[str, str], list[Run]]:
    starts = {
        ("hubspot", "contacts"): [30, 20, 19, 18, 15, 14, 3],  # every hour by its schedule
        ("callrail", "calls"): list(range(40, 9, -2)),  # no schedule: every 2 h by its runs
        ("genius", "appointments"): [20, 5],  # a crontab schedule: every 4 hours on the hour (UTC)
    }
    runs = {pair: [Run(*pair, "success", h * H, h * H - M) for h in hours] for pair, hours in starts.items()}
    insert_runs(db, [r for rs in runs.values() for r in rs], now)
    insert_schedules(db, [
        {"crm_source": "hubspot", "model_name": "contacts", "recurrence_type": "interval", "every": 1,
         "period": "hours"},
        {"crm_source": "genius", "model_name": "appointments", "recurrence_type": "crontab",
         "crontab_minute": "0", "crontab_hour": "*/4", "crontab_day_of_week": "*", "crontab_day_of_month": "*",
         "crontab_month_of_year": "*"},
    ], now)
    return runs


def intervals(runs: dict[tuple[str, str], list[Run]], now) -> dict[tuple[str, str], timedelta]:
    """The schedule's hour for hubspot; callrail's median gap between its latest 6 runs."""
    latest = sorted((r.start(now) for r in runs[("callrail", "calls")]), reverse=True)[:6]
    gaps = [(a - b).total_seconds() for a, b in zip(latest, latest[1:], strict=False)]
    return {("hubspot", "contacts"): H, ("callrail", "calls"): timedelta(seconds=statistics.median(gaps))}


def crontab_due(start: datetime) -> datetime:
    """celery's crontab (minute 0, hour */4, UTC) asked when it is due after a send at ``start``:
    the library's arithmetic, not this test's reading of it."""
    from celery import Celery
    from celery.schedules import crontab

    fixed = datetime(2000, 1, 1, tzinfo=UTC)  # remaining_estimate counts from "now": a fixed one
    schedule = crontab(minute="0", hour="*/4", nowfun=lambda: fixed, app=Celery(set_as_current=False))
    return fixed + schedule.remaining_estimate(start.astimezone(UTC))


def expected_late(runs, now, start: datetime, end: datetime, kinds=("late_started", "late_ended"),
                  crm=None) -> list[tuple]:
    """Each pair's gaps (from its last run before the window) that outlast the firing due after the
    run plus the grace: the run's start + interval, or the crontab's next firing."""
    events = []
    every = intervals(runs, now)
    for pair in (*every, ("genius", "appointments")):
        if crm is not None and pair[0] != crm:
            continue
        ordered = sorted(runs[pair], key=lambda r: r.start(now))
        before = [r for r in ordered if r.start(now) < start][-1:]
        inside = [r for r in ordered if start <= r.start(now) < end]
        chain = before + inside
        for run, following in zip(chain, [*chain[1:], None], strict=True):
            due = run.start(now) + every[pair] if pair in every else crontab_due(run.start(now))
            late_at = due + GRACE
            until = following.start(now) if following else end
            if until <= late_at:
                continue
            if "late_started" in kinds and start <= late_at < end:
                events.append((iso_utc(late_at), "late_started", *pair, run.id))
            if "late_ended" in kinds and following and start <= following.start(now) < end:
                events.append((iso_utc(following.start(now)), "late_ended", *pair, following.id))
    return sorted(events, key=lambda e: (e[0], e[4]), reverse=True)


def as_tuple(e: dict) -> tuple:
    return (e["at"], e["kind"], e["crm_source"], e["sync_type"], e["run_id"])


def get(client, query: str) -> dict:
    answer = client.get(f"/api/timeline?{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_late_spans_from_the_schedule_and_from_the_runs(client, db):
    now = utc_now()
    runs = write(db, now)
    body = get(client, "kind=late_started,late_ended")
    expected = expected_late(runs, now, now - DAY, now)
    assert [as_tuple(e) for e in body["events"]] == expected and body["total"] == len(expected)
    # hubspot: 6 (a span from before the window, one still open); callrail: 1; genius: its crontab's
    assert len(expected) == 7 + sum(1 for e in expected if e[2] == "genius") and any(e[2] == "genius" for e in expected)
    ended = next(e for e in body["events"] if e["kind"] == "late_ended")
    hubspot = runs[("hubspot", "contacts")]
    assert ended["run_id"] == hubspot[-1].id and ended["late_seconds"] == pytest.approx(
        (hubspot[-2].start_ago - hubspot[-1].start_ago - H - GRACE).total_seconds())
    assert ended["interval_seconds"] == 3600 and ended["grace_seconds"] == GRACE.total_seconds()
    assert ended["plan"] in ("schedule", "beat")
    genius = next(e for e in body["events"] if e["crm_source"] == "genius" and e["kind"] == "late_started")
    assert genius["interval_seconds"] is None and genius["plan"] in ("schedule", "beat")
    assert "crontab 0 */4" in genius["summary"]
    callrail = next(e for e in body["events"] if e["crm_source"] == "callrail")
    assert callrail["plan"] == "estimated" and callrail["summary"].startswith("CallRail calls late: no run within")

    only_ended = get(client, "kind=late_ended&crm_source=hubspot")["events"]
    assert [as_tuple(e) for e in only_ended] == expected_late(runs, now, now - DAY, now, ("late_ended",), "hubspot")
    assert [as_tuple(e) for e in get(client, "kind=late_started&sync_type=calls")["events"]] == expected_late(
        runs, now, now - DAY, now, ("late_started",), "callrail")


def test_a_past_window(client, db):
    """16 h .. 4 h ago: the span after the run 18 h ago started and ended in it; the last one ended in it."""
    now = utc_now()
    runs = write(db, now)
    start, end = now - 16 * H, now - 4 * H
    body = get(client, f"kind=late_started,late_ended&start={iso_utc(start)}&end={iso_utc(end)}")
    assert [as_tuple(e) for e in body["events"]] == expected_late(runs, now, start, end)
    assert body["total"] > 0


def test_every_kind_before_db_upgrade(dash_app, use_engine, sqlite_db):
    """No app tables yet: the runs' events alone (incidents none here, late spans from the runs)."""
    now = utc_now()
    runs = write(sqlite_db, now)
    use_engine(sqlite_db)
    body = get(dash_app.server.test_client(), "")
    assert [as_tuple(e) for e in body["events"]] == expected_late(runs, now, now - DAY, now)
