"""The run rollups answer what the raw queries answer: the performance, errors, /metrics and
failed-operations numbers from the rollups equal those from the raw table (counts and sums
exactly, percentiles within 5%), on both table shapes and SQLite, after runs close hours later,
rows are corrected or deleted after they were rolled up, and with the data in other clock zones."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, update

from dashapp.payloads import day_cache as day_cache_payloads
from dashapp.payloads import errors as errors_payloads
from dashapp.payloads import performance as performance_payloads
from dashapp.storage import rollups
from dashapp.storage.db import postgres_engine, sqlite_engine
from dashapp.storage.sync_tables import metadata, sync_history
from queries import alerts, failed_operations, metrics, run_rollups
from queries._sql import bind_time
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.rows import Run, deployed, insert_runs

STATUSES = ("success", "completed", "failed", "partial", "success", "failed", "weird", None, "success", "partial")
MESSAGES = ("HTTPError: 502 Bad Gateway for id 48213", "HTTPError: 502 Bad Gateway for id 7",
            "AuthenticationError: token 'abc' expired", None, "3 of 40 records rejected")


def sample_runs(null_status: bool = True) -> list[Run]:
    """Runs over 40 days in every class (aliases, an unknown value, NULL where the shape allows
    it), zero and long durations, NULL counts, failures without an end."""
    runs = []
    for i in range(260):
        status = STATUSES[i % len(STATUSES)]
        status = status if status is not None or null_status else "stale"
        ago = timedelta(minutes=37 * i + (i % 7)) if i < 200 else timedelta(days=8 + (i - 200) * 0.5, minutes=i)
        seconds = [0, 0.5, 3, 45, 300, 1800, 4 * 3600, 61][i % 8] + (i % 5) * 0.25
        no_end = status == "failed" and i % 4 == 0
        end = None if no_end else ago - timedelta(seconds=seconds)
        problem = status in ("failed", "partial")
        runs.append(Run(("hubspot", "callrail", "genius")[i % 3], ("contacts", "deals")[i % 2], status, ago, end,
                        processed=None if i % 11 == 0 else i * 3, created=i, updated=None if i % 13 == 0 else 2 * i,
                        failed=i % 4, error=MESSAGES[i % len(MESSAGES)] if problem else None))
    runs.append(Run("hubspot", "contacts", "running", timedelta(hours=3), None, processed=10))
    runs.append(Run("callrail", "calls", "running", timedelta(hours=30), None, processed=20))
    return runs


@pytest.fixture(autouse=True)
def no_rollups_left(request):
    """Other tests share these databases and read the raw table: leave no rollups behind."""
    engines: list[Engine] = []
    request.node.rollup_engines = engines
    yield
    for engine in engines:
        forget(engine)


def forget(engine: Engine) -> None:
    from dashapp.storage.app_tables import duration_days, error_hours, rollup_state, run_days, run_hours

    with engine.begin() as conn:
        for table in (rollup_state, run_hours, run_days, duration_days, error_hours):
            conn.execute(table.delete())


def raw(monkeypatch, answer):
    """``answer()`` as it is without rollups (the raw table and an empty day cache)."""
    with monkeypatch.context() as patch:
        patch.setattr(run_rollups, "ready", lambda db: None)
        day_cache_payloads.DAYS.clear()
        return answer()


def assert_same_frames(rolled: dict, exact: dict) -> None:
    for name, frame in exact.items():
        got = rolled[name]
        assert list(got.columns) == list(frame.columns), name
        key = [c for c in ("day", "crm_source", "sync_type", "sync_type_status", "error_class")
               if c in frame.columns]
        a = got.sort_values(key).reset_index(drop=True)
        b = frame.sort_values(key).reset_index(drop=True)
        assert len(a) == len(b), (name, a, b)
        for column in frame.columns:
            if column in ("p50", "p95"):
                for x, y in zip(a[column], b[column], strict=True):
                    assert abs(float(x) - float(y)) <= max(0.05 * abs(float(y)), 0.011), (name, column, x, y)
            elif column in ("timed_seconds", "records_per_second", "success_rate", "partial_rate", "failure_rate"):
                assert all(math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-6)
                           for x, y in zip(a[column], b[column], strict=True)), (name, column)
            elif column == "last_seen":
                assert list(pd.to_datetime(a[column])) == list(pd.to_datetime(b[column])), name
            elif pd.api.types.is_numeric_dtype(b[column]) or pd.api.types.is_numeric_dtype(a[column]):
                assert [float(v) for v in a[column]] == [float(v) for v in b[column]], (name, column, a, b)
            elif column != "sample":
                assert [str(v) for v in a[column]] == [str(v) for v in b[column]], (name, column, a, b)


def assert_exact(db: Engine, monkeypatch, now) -> None:
    assert run_rollups.ready(db) is not None
    for days, crms, types in ((1, (), ()), (7, (), ()), (30, (), ()), (45, ("hubspot",), ()),
                              (30, (), ("deals",)), (7, ("genius", "callrail"), ("contacts",))):
        start = now - timedelta(days=days)  # a window that starts inside a day: its first day in part
        rolled = performance_payloads.performance_frames(db, start, now, crms, types)
        exact = raw(monkeypatch, lambda s=start, c=crms, t=types, read=performance_payloads.performance_frames:
                    read(db, s, now, c, t))
        assert_same_frames(rolled, exact)
    for days in (1, 7, 30):
        rolled = errors_payloads.errors_frames(db, now - timedelta(days=days), now)
        exact = raw(monkeypatch, lambda d=days: errors_payloads.errors_frames(db, now - timedelta(days=d), now))
        assert_same_frames({"classes": rolled["classes"], "rates": rolled["rates"]},
                           {"classes": exact["classes"], "rates": exact["rates"]})
    since = now - timedelta(hours=24)
    rolled = metrics.day_counts(db, since)
    exact = raw(monkeypatch, lambda: metrics.day_counts(db, since))
    assert_same_frames({"counts": rolled.rename(columns={"status": "sync_type_status"})},
                       {"counts": exact.rename(columns={"status": "sync_type_status"})})
    for since in (now - timedelta(days=7), now - timedelta(days=30, minutes=17)):  # the alert rules' averages
        rolled = alerts.pair_stats(db, since)
        exact = raw(monkeypatch, lambda s=since: alerts.pair_stats(db, s))
        assert_same_frames({"pairs": rolled.rename(columns={"avg_seconds": "timed_seconds"})},
                           {"pairs": exact.rename(columns={"avg_seconds": "timed_seconds"})})
    for f in (failed_operations.OperationFilter(since=now - timedelta(days=30)),
              failed_operations.OperationFilter(since=now - timedelta(hours=50), crm_sources=("hubspot",)),
              failed_operations.OperationFilter()):
        assert failed_operations.count_by_state(db, f) == raw(
            monkeypatch, lambda f=f: failed_operations.count_by_state(db, f))


@pytest.mark.slow
def test_rollups_equal_the_raw_queries(db, monkeypatch, request):
    empty_app_tables(db)
    request.node.rollup_engines.append(db)
    now = utc_now()
    runs = insert_runs(db, sample_runs(not deployed(db)), now)
    assert rollups.build(db, now) > 0
    assert_exact(db, monkeypatch, now)

    # the run started 3 hours ago and the one started 30 hours ago close now; a new run arrives
    with db.begin() as conn:
        for run in runs[-2:]:
            conn.execute(update(sync_history).where(sync_history.c.id == run.id).values(
                status="success", end_time=bind_time(conn, now - timedelta(minutes=1)), records_processed=99))
    later = now + timedelta(minutes=2)
    insert_runs(db, [Run("genius", "deals", "failed", timedelta(minutes=1), timedelta(0), error="late one")], later)
    outcome = rollups.refresh(db, later)
    assert outcome["hours"] >= rollups.RECENT_HOURS + 1  # the recent hours and the 30-hour-old one
    assert_exact(db, monkeypatch, later)

    # rows corrected and deleted days after they were rolled up: the reconciliation finds the days
    old = [r for r in runs if timedelta(days=2) < r.start_ago < timedelta(days=6)]
    with db.begin() as conn:
        conn.execute(update(sync_history).where(sync_history.c.id == old[0].id).values(
            status="failed", records_processed=12345, error_message="corrected later"))
        conn.execute(delete(sync_history).where(sync_history.c.id == old[-1].id))
    moved = next(r for r in runs if timedelta(days=8) < r.start_ago < timedelta(days=12))
    with db.begin() as conn:  # only its CRM changes: every day total stays the same
        conn.execute(update(sync_history).where(sync_history.c.id == moved.id).values(crm_source="moved-crm"))
    fixed = rollups.reconcile(db, later, days=45)  # from its cursor back to the first run, and round again
    assert {old[0].start(now).strftime("%Y-%m-%d"), old[-1].start(now).strftime("%Y-%m-%d"),
            moved.start(now).strftime("%Y-%m-%d")} <= set(fixed)
    assert rollups.reconcile(db, later, days=45) == []  # nothing left to fix
    assert_exact(db, monkeypatch, later)


@pytest.mark.slow
@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/New_York"])
def test_rollups_equal_the_raw_queries_with_data_in_another_zone(postgres_url, pg_engine, tmp_path, zone,
                                                                 monkeypatch, request):
    """SYNC_TIMEZONE: the user's naive times in another zone (half-hour offsets too on PostgreSQL),
    days labelled in that zone, windows bounded in UTC."""
    engines = [postgres_engine(postgres_url, "orchestration", zone)]
    if zone == "America/New_York":
        engines.append(sqlite_engine(tmp_path / "zone.sqlite3", "orchestration", zone))
        with engines[-1].begin() as conn:
            metadata.create_all(conn)
    for engine in engines:
        empty_app_tables(engine)
        now = utc_now()
        insert_runs(engine, sample_runs(), now)
        rollups.build(engine, now)
        try:
            assert_exact(engine, monkeypatch, now)
        finally:
            forget(engine)
            engine.dispose()


def test_the_histogram_reads_percentiles_within_five_percent():
    from queries import duration_histogram as h

    for seconds in (0.02, 0.5, 1, 3.3, 59.9, 61, 3600, 4 * 3600):
        counts = [0] * h.BUCKETS
        counts[h.bucket(seconds)] = 1
        assert abs(h.percentile(counts, 0.5) - seconds) <= 0.05 * seconds
    assert h.percentile([0] * h.BUCKETS, 0.5) is None


def test_a_catch_up_recomputes_a_day_per_statement_at_most():
    start = run_rollups.floor_hour(utc_now()) - timedelta(hours=60)
    hours = [start + timedelta(hours=i) for i in range(50)] + [start + timedelta(hours=55)]
    assert rollups._ranges(hours) == [(start, start + timedelta(hours=24)),
                                      (start + timedelta(hours=24), start + timedelta(hours=48)),
                                      (start + timedelta(hours=48), start + timedelta(hours=50)),
                                      (start + timedelta(hours=55), start + timedelta(hours=56))]


def test_one_process_of_all_claims_each_refresh_cycle(db, request):
    """Each web worker of each instance runs the refresh loop; the cycle is claimed first
    (``dashapp.storage.periodic``), so one that finds it claimed less than 0.9 of a cycle ago
    skips its turn instead of computing the same hours again."""
    from dashapp.storage import periodic

    empty_app_tables(db)
    request.node.rollup_engines.append(db)
    assert periodic.last(db, periodic.ROLLUPS) is None  # never refreshed
    assert periodic.claim(db, periodic.ROLLUPS, 60)
    assert [periodic.claim(db, periodic.ROLLUPS, 60) for _ in range(3)] == [False] * 3
    assert periodic.last(db, periodic.ROLLUPS)["runs"] == 1
    assert periodic.claim(db, periodic.ROLLUPS, 0.001)  # 0.9 of a millisecond's cycle has long gone
    assert periodic.last(db, periodic.ROLLUPS)["runs"] == 2
