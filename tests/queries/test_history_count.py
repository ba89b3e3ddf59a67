"""The history's count from the run rollups equals the raw table's count, exactly, for every filter
the rollups can answer (a window, CRMs, sync types, status classes), on both table shapes and
SQLite, also for a run that closes after its hour was rolled up; other filters count the raw table
as before."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from dashapp.storage import rollups
from dashapp.storage.sync_tables import sync_history
from queries import run_rollups
from queries._sql import bind_time
from queries.clock import utc_now
from queries.history import FilterValues, history_count, rollup_count
from queries.outcomes import status_class
from queries.run_rollups import count as counting
from tests.conftest import empty_app_tables
from tests.support.rows import Run, deployed, insert_runs

STATUSES = ("success", "completed", "failed", "partial", "success", "weird", None, "in_progress", "success")
CRMS = ("hubspot", "callrail", "genius")
TYPES = ("contacts", "deals", "calls")


def runs(null_status: bool) -> list[Run]:
    """Runs over 50 days in every class (aliases, an unknown value, NULL where the shape allows it)."""
    found = []
    for i in range(240):
        status = STATUSES[i % len(STATUSES)]
        status = status if status is not None or null_status else "stale"
        ago = timedelta(minutes=29 * i + (i % 7)) if i < 180 else timedelta(days=6 + (i - 180) * 0.7, minutes=i)
        end = None if status in ("in_progress",) else ago - timedelta(seconds=30 + i)
        found.append(Run(CRMS[i % 3], TYPES[(i // 3) % 3], status, ago, end, processed=i))
    # running now; running since an hour that is rolled up (it closes later in the test)
    found.append(Run("hubspot", "contacts", "running", timedelta(minutes=10), None))
    found.append(Run("genius", "deals", "running", timedelta(hours=5, minutes=20), None))
    return found


@pytest.fixture
def rolled_up(db):
    empty_app_tables(db)
    now = utc_now()
    written = insert_runs(db, runs(not deployed(db)), now)
    rollups.build(db, now)
    assert run_rollups.ready(db) is not None
    yield db, written, now
    empty_app_tables(db)  # other tests share the database and read the raw table


def expected(written: list[Run], f: FilterValues, now) -> int:
    def matches(run: Run) -> bool:
        start = run.start(now)
        low, high = f.get("start"), f.get("end")
        crm_sources, sync_types, statuses = (f.get(name, ()) for name in ("crm_sources", "sync_types", "statuses"))
        return ((low is None or start >= low) and (high is None or start < high)
                and (not crm_sources or run.crm_source in crm_sources)
                and (not sync_types or run.sync_type in sync_types)
                and (not statuses or status_class(run.status) in statuses))
    return sum(1 for run in written if matches(run))


def filters(now) -> list[FilterValues]:
    month, odd = now - timedelta(days=30), now - timedelta(days=3, minutes=17, seconds=5)
    return [
        FilterValues(start=month),
        FilterValues(),
        FilterValues(start=now - timedelta(hours=24)),
        FilterValues(start=now - timedelta(days=7)),
        FilterValues(start=month, statuses=("failed",)),
        FilterValues(start=month, statuses=("success",)),  # completed too
        FilterValues(start=month, statuses=("running",)),
        FilterValues(start=month, statuses=("success", "partial")),
        FilterValues(start=month, crm_sources=("hubspot",)),
        FilterValues(start=month, crm_sources=("genius", "callrail"), statuses=("failed",)),
        FilterValues(start=month, sync_types=("deals",)),
        FilterValues(start=odd, end=now - timedelta(hours=2, minutes=41), crm_sources=("genius",),
                      sync_types=("deals", "calls"), statuses=("success", "running")),
        FilterValues(start=now - timedelta(minutes=40)),  # no whole hour rolled up: the raw count
    ]


@pytest.mark.slow
def test_rollup_counts_equal_the_raw_count(rolled_up, monkeypatch):
    db, written, now = rolled_up
    for f in filters(now):
        count, exact = history_count(db, cap=20, **f)  # a cap below most counts: only the rollups are exact past it
        raw = len(written) if f == FilterValues() else expected(written, f, now)
        if f.get("start") is None or now - f["start"] > timedelta(hours=1):
            assert rollup_count(db, cap=20, **f) == raw, f
            assert (count, exact) == (raw, True), f
        with monkeypatch.context() as patch:  # the raw table's count, as without rollups
            patch.setattr(counting, "ready", lambda db: None)
            assert history_count(db, **f) == (raw, True), f


def test_a_run_that_closes_after_its_hour_was_rolled_up_is_counted_in_its_new_class(rolled_up):
    db, written, now = rolled_up
    late = written[-1]
    month = now - timedelta(days=30)
    failed = FilterValues(start=month, statuses=("failed",))
    running = FilterValues(start=month, statuses=("running",))
    before = history_count(db, **failed), history_count(db, **running)
    with db.begin() as conn:  # closes now; no refresh has run since
        conn.execute(update(sync_history).where(sync_history.c.id == late.id).values(
            status="failed", end_time=bind_time(conn, now - timedelta(minutes=1))))
    late.status = "failed"
    assert history_count(db, **failed) == (before[0][0] + 1, True) == (expected(written, failed, now), True)
    assert history_count(db, **running) == (before[1][0] - 1, True) == (expected(written, running, now), True)
    assert history_count(db, **FilterValues(start=month, crm_sources=("genius",), statuses=("failed", "running"))) \
        == (expected(written, FilterValues(start=month, crm_sources=("genius",), statuses=("failed", "running")),
                     now), True)


@pytest.mark.parametrize("f", [
    FilterValues(q="anything"),
    FilterValues(statuses=("completed",)),  # an alias alone is not a whole class
    FilterValues(statuses=("weird",)),
    FilterValues(columns={"records_processed": {"filterType": "number", "type": "greaterThan", "filter": 3}}),
    FilterValues(ended_after=utc_now() - timedelta(hours=1)),
])
def test_filters_the_rollups_cannot_answer_count_the_raw_table(rolled_up, f):
    db, written, now = rolled_up
    assert rollup_count(db, **f) is None
    count, exact = history_count(db, **f)
    assert exact and count <= len(written)


def long_runs() -> list[Run]:
    """Runs across the moments below: started in the LONG_RUN before them and long before, ending
    after, in every stored class."""
    d, h = timedelta(days=1), timedelta(hours=1)
    return [Run("hubspot", "contacts", "failed", 10 * d, 2 * d), Run("genius", "deals", "success", 9 * d + 3 * h,
                8 * d),
            Run("callrail", "calls", "partial", 20 * d, h), Run("hubspot", "deals", "success", 8 * d + 5 * h, 7 * d),
            Run("genius", "calls", "completed", 30 * d, 8 * d - h), Run("callrail", "deals", "failed", 3 * h, h),
            Run("genius", "contacts", "success", 8 * d + 4 * h, 8 * d + h)]


@pytest.mark.slow
def test_counts_as_of_a_moment_take_the_status_then(db):
    """As of T the status filter matches the status at T (a run that ended after T was running):
    the rollups' count by stored class, corrected by the runs running at T, equals the count worked
    out here for every moment and filter, also for runs longer than LONG_RUN."""
    empty_app_tables(db)
    now = utc_now()
    written = insert_runs(db, runs(not deployed(db)) + long_runs(), now)
    rollups.build(db, now)
    try:
        for at_ago in (timedelta(days=8, hours=2), timedelta(days=3, minutes=17), timedelta(hours=7, minutes=1)):
            at = now - at_ago
            for f in [FilterValues(start=at - timedelta(days=30), statuses=classes)
                      for classes in (("running",), ("failed",), ("success",), ("success", "running"),
                                      ("partial", "failed"))] + [
                    FilterValues(start=at - timedelta(days=12), crm_sources=("hubspot", "genius"),
                                 statuses=("running", "failed")), FilterValues(statuses=("success",))]:
                def then(run: Run, at_ago: timedelta = at_ago) -> str | None:
                    ended_after = run.end_ago is not None and run.end_ago < at_ago
                    return "running" if ended_after else status_class(run.status)

                want = sum(1 for r in written if r.start_ago > at_ago
                           and (f.get("start") is None or r.start(now) >= f["start"])
                           and (not f.get("crm_sources") or r.crm_source in f["crm_sources"])
                           and then(r) in f["statuses"])
                assert rollup_count(db, **f, as_of=at) == want, (at_ago, f)
                assert history_count(db, **f, as_of=at) == (want, True), (at_ago, f)
    finally:
        empty_app_tables(db)


def test_spanning_hours_find_runs_across_the_moment_however_long_ago_they_started(db):
    """``spanning_hours``: the UTC hours of the runs started before T that ended after it, from a run
    started 30 days before T to one started a minute before it; not a run that ended by T."""
    from datetime import UTC

    from queries.run_rollups.hours import floor_hour
    from queries.run_rollups.raw import spanning_hours

    empty_app_tables(db)
    now = utc_now()
    at_ago = timedelta(days=8, hours=2)
    written = insert_runs(db, long_runs() + [Run("hubspot", "calls", "success", at_ago + timedelta(minutes=1),
                                                 at_ago - timedelta(minutes=1))], now)
    at = now - at_ago

    def hours(since: timedelta) -> set:
        return {floor_hour(r.start(now).astimezone(UTC)).replace(tzinfo=None) for r in written
                if since > r.start_ago > at_ago and r.end_ago is not None and r.end_ago < at_ago}

    assert len(hours(timedelta(days=90))) >= 4 and hours(timedelta(days=12)) != hours(timedelta(days=90))
    assert {h.replace(tzinfo=None) for h in spanning_hours(db, None, at)} == hours(timedelta(days=90))
    assert {h.replace(tzinfo=None) for h in spanning_hours(db, now - timedelta(days=12), at)} \
        == hours(timedelta(days=12))
