"""The run rollups at the edges of what the user's table holds, on both table shapes and SQLite:
- any text round-trips through the build and the refresh (CR, LF, tabs, backslashes, quotes, RTL
  marks, emoji, '' apart from NULL, a megabyte of error text), compared with raw SQL GROUP BY;
- runs at impossible times (-infinity, year 1, 1970, 9999, infinity) are never rolled up nor
  walked through hour by hour, and the readers still equal raw SQL over windows that hold them;
- the build visits only the hours that hold runs, and a build killed midway resumes where it
  stopped, ending equal to a clean build;
- a run written late (started 5 days back) is in the readers' answers before the next refresh
  (its day is read raw) and in the rollups after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, text

from dashapp.storage import rollups
from queries import history, run_rollups
from queries._sql import Binds, app_db, app_table, sql, table
from queries.clock import utc_now
from queries.error_classes import error_class
from queries.run_rollups import key_value
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs

AWKWARD = ["", " ", "carriage\rreturn", "line\nfeed", "crlf\r\n", "tab\there", "back\\slash", "\\N", "NULL",
           'say "hi"', "it's", "comma,semi;", "\u200fمرحبا\u200f", "emoji 🚀🔥", "trailing space "]
MEGABYTE = "Traceback (most recent call last):\r\n" + "  é🚀\t\\ \"q\" 'q'\n" * 60_000 + "\u200fend"


def awkward_runs() -> list[Run]:
    """Every awkward value as a CRM, a sync type and an error message, in hours over two days."""
    runs = []
    for i, value in enumerate(AWKWARD):
        ago = timedelta(hours=3 + 2 * i, minutes=7)
        runs.append(Run(value, "contacts", "success", ago, ago - timedelta(seconds=30), processed=i))
        runs.append(Run("hubspot", value, "failed", ago + timedelta(minutes=5), ago, processed=2 * i, error=value))
        runs.append(Run(value, value, "partial", ago + timedelta(minutes=9), ago, processed=3, error=f"{value} x"))
    runs.append(Run("genius", "calls", "failed", timedelta(hours=40), timedelta(hours=39), error=MEGABYTE))
    runs.append(Run("genius", "calls", "failed", timedelta(hours=41), timedelta(hours=40), error=None))
    return runs


def raw_groups(db: Engine, start: datetime | None = None, end: datetime | None = None) -> dict:
    """Runs and records per (CRM, sync type) started in [start, end), by raw SQL GROUP BY."""
    with db.connect() as conn:
        b = Binds(conn)
        where = ["1 = 1"]
        if start is not None:
            where.append(f"start_time >= {b.bind(start)}")
        if end is not None:
            where.append(f"start_time < {b.bind(end)}")
        rows = conn.execute(sql(f"""
            SELECT crm_source, sync_type, COUNT(*), COALESCE(SUM(records_processed), 0)
            FROM {table(conn, 'sync_history')} WHERE {' AND '.join(where)} GROUP BY 1, 2""",
                                params=tuple(b.time_params)), b.params)
        return {(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows}


def reader_groups(db: Engine, start: datetime | None = None, end: datetime | None = None) -> dict:
    """The same from ``run_rows`` (rollups, and the raw table where they do not reach)."""
    covered = run_rollups.ready(db)
    assert covered is not None
    frame = run_rollups.run_rows(db, start, end, covered)
    groups: dict = {}
    for row in frame.itertuples(index=False):
        key = (key_value(row.crm_source), key_value(row.sync_type))
        runs, records = groups.get(key, (0, 0))
        groups[key] = (runs + int(row.runs), records + int(row.records_processed))
    return {k: v for k, v in groups.items() if v[0]}


def rolled_groups(db: Engine) -> dict:
    """Runs and records per (CRM, sync type) in ``run_hours`` and in ``run_days``, as stored."""
    found = {}
    with app_db(db).connect() as conn:
        for name in ("run_hours", "run_days"):
            rows = conn.execute(text(f"SELECT crm_source, sync_type, SUM(runs), SUM(records_processed) "
                                     f"FROM {app_table(conn, name)} GROUP BY 1, 2"))
            found[name] = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows}
    assert found["run_hours"] == found["run_days"]
    return found["run_hours"]


def raw_messages(db: Engine, start: datetime, end: datetime) -> dict[str, tuple[int, set[str]]]:
    """Failed and partial runs per error class, with the first 500 characters of their messages."""
    with db.connect() as conn:
        b = Binds(conn)
        rows = conn.execute(sql(f"""
            SELECT error_message, COUNT(*) FROM {table(conn, 'sync_history')}
            WHERE status IN ('failed', 'partial') AND start_time >= {b.bind(start)} AND start_time < {b.bind(end)}
            GROUP BY 1""", params=tuple(b.time_params)), b.params)
        classes: dict[str, tuple[int, set[str]]] = {}
        for message, runs in rows:
            count, samples = classes.get(error_class(message), (0, set()))
            classes[error_class(message)] = (count + int(runs), samples | {None if message is None else message[:500]})
    return classes


@pytest.fixture
def rolled(request):
    """Engines whose rollups the test builds: forgotten afterwards (other tests read raw)."""
    engines: list[Engine] = []
    yield engines
    for engine in engines:
        with app_db(engine).begin() as conn:
            for name in ("rollup_state", "run_hours", "run_days", "duration_days", "error_hours"):
                conn.execute(text(f"DELETE FROM {app_table(conn, name)}"))


def test_any_text_round_trips_through_build_and_refresh(db, rolled):
    empty_app_tables(db)
    rolled.append(db)
    now = utc_now()
    insert_runs(db, awkward_runs(), now)
    rollups.build(db, now)
    covered = run_rollups.ready(db)
    assert rolled_groups(db) == raw_groups(db, None, covered.replace(tzinfo=UTC))
    assert ("", "contacts") in rolled_groups(db) and ("hubspot", "") in rolled_groups(db)
    assert reader_groups(db) == raw_groups(db)
    assert reader_groups(db, now - timedelta(days=3), now) == raw_groups(db, now - timedelta(days=3), now)
    window = (now - timedelta(days=3), now)
    exact = raw_messages(db, *window)
    rows = run_rollups.error_messages(db, *window, covered)
    got: dict[str, int] = {}
    for message, runs in zip(rows["message"], rows["runs"], strict=True):
        name = error_class(key_value(message))
        got[name] = got.get(name, 0) + int(runs)
    assert got == {k: v[0] for k, v in exact.items()}
    with app_db(db).connect() as conn:
        samples = {r[0]: r[1] for r in conn.execute(text(
            f"SELECT error_class, sample FROM {app_table(conn, 'error_hours')}"))}
    for name, sample in samples.items():
        assert sample in exact[name][1], (name, sample)
    assert MEGABYTE[:500] in samples.values() and "crlf\r\n x" in samples.values()

    # more of them arrive, in the current hour and late (a day back): one refresh rolls them up
    later = now + timedelta(hours=1)
    insert_runs(db, [Run(v, v, "success", timedelta(minutes=30), timedelta(minutes=29)) for v in AWKWARD]
                + [Run(v, "late", "failed", timedelta(hours=26), None, error=v) for v in AWKWARD], later)
    rollups.refresh(db, later)
    covered = run_rollups.ready(db)
    assert rolled_groups(db) == raw_groups(db, None, covered.replace(tzinfo=UTC))
    assert reader_groups(db) == raw_groups(db)


@pytest.fixture
def nullable_keys(request):
    """The user's crm_source and sync_type without NOT NULL (the app reads what a warehouse holds)."""
    engine = request.getfixturevalue(request.param)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE orchestration.sync_history ALTER COLUMN crm_source DROP NOT NULL, "
                             "ALTER COLUMN sync_type DROP NOT NULL")
    yield engine
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE orchestration.sync_history")
        conn.exec_driver_sql("ALTER TABLE orchestration.sync_history ALTER COLUMN crm_source SET NOT NULL, "
                             "ALTER COLUMN sync_type SET NOT NULL")


@pytest.mark.parametrize("nullable_keys", ["pg_engine", "deployed_engine"], indirect=True)
def test_null_and_empty_keys_stay_apart(nullable_keys, rolled):
    db = nullable_keys
    empty_app_tables(db)
    rolled.append(db)
    now = utc_now()
    runs = [Run(crm, kind, status, timedelta(hours=hours), timedelta(hours=hours - 0.1), processed=n)
            for n, (crm, kind) in enumerate([(None, "contacts"), ("", "contacts"), ("hubspot", None),
                                             ("hubspot", ""), (None, None), ("", ""), (None, "")])
            for status, hours in (("success", 10 + n), ("failed", 30 + n), ("running", 50))]
    insert_runs(db, runs, now)
    rollups.build(db, now)
    covered = run_rollups.ready(db)
    groups = rolled_groups(db)
    assert groups == raw_groups(db, None, covered.replace(tzinfo=UTC))
    assert {(None, "contacts"), ("", "contacts"), (None, None), ("", ""), (None, "")} <= set(groups)
    assert reader_groups(db) == raw_groups(db)
    for days in (1, 3):
        start = now - timedelta(days=days)
        assert reader_groups(db, start, now) == raw_groups(db, start, now)
        frame, histograms = run_rollups.daily_rows(db, start, now, covered, durations=True)
        daily = {}
        for row in frame.itertuples(index=False):
            key = (key_value(row.crm_source), key_value(row.sync_type))
            daily[key] = daily.get(key, 0) + int(row.runs)
        assert daily == {k: v[0] for k, v in raw_groups(db, start, now).items()}
        assert {key_value(crm) for _, crm in histograms.keys} == {None, "", "hubspot"}
    assert rollups.reconcile(db, now, days=4) == []  # NULL and '' compare as the raw table's keys
    for crm in ("", "hubspot"):  # a filter on '' matches '' only, in the rollups as in the raw table
        f = history.FilterValues(crm_sources=(crm,))
        exact = sum(v[0] for k, v in raw_groups(db).items() if k[0] == crm)
        assert history.rollup_count(db, **f) == exact


IMPOSSIBLE = [datetime(1970, 1, 1, 0, 30), datetime(1, 1, 1, 5), datetime(9999, 12, 30, 1), datetime(1999, 12, 31, 23)]


def impossible_runs(db: Engine, now: datetime) -> None:
    """Runs at -infinity and infinity (PostgreSQL holds them), year 1, 1970, 9999 and just before 2000."""
    with db.begin() as conn:
        b = Binds(conn)
        values = [f"({b.bind(moment.replace(tzinfo=UTC))}, {b.bind(moment.replace(tzinfo=UTC))})"
                  for moment in IMPOSSIBLE]
        if b.postgres:
            values += ["('-infinity', '-infinity')", "('infinity', NULL)", "('-infinity', 'infinity')"]
        conn.execute(sql(f"""
            INSERT INTO {table(conn, 'sync_history')} (crm_source, sync_type, status, start_time, end_time,
                                                       records_processed, error_message)
            SELECT 'clock', 'odd', 'failed', s, e, 7, 'clock went wrong'
            FROM (VALUES {', '.join(values)}) AS v(s, e)""" if b.postgres else f"""
            INSERT INTO {table(conn, 'sync_history')} (crm_source, sync_type, status, start_time, end_time,
                                                       records_processed, error_message)
            SELECT 'clock', 'odd', 'failed', column1, column2, 7, 'clock went wrong'
            FROM (VALUES {', '.join(values)})""", params=tuple(b.time_params)), b.params)


def test_runs_at_impossible_times_are_read_raw_never_rolled_up(db, rolled):
    empty_app_tables(db)
    rolled.append(db)
    now = utc_now()
    insert_runs(db, [Run("hubspot", "contacts", "success", timedelta(hours=h), timedelta(hours=h - 0.5), processed=h)
                     for h in (2, 26, 50)], now)
    impossible_runs(db, now)
    rollups.build(db, now)
    covered = run_rollups.ready(db)
    with app_db(db).connect() as conn:
        low, high = conn.execute(text(f"SELECT MIN(hour), MAX(hour) FROM {app_table(conn, 'run_hours')}")).one()
        clock = conn.execute(text(f"SELECT COUNT(*) FROM {app_table(conn, 'run_hours')} "
                                  f"WHERE crm_source = 'clock'")).scalar()
    assert clock == 0
    assert str(low) >= "2000-01-01" and str(high) < str(covered)
    assert ("clock", "odd") not in rolled_groups(db)
    windows = [(None, None), (None, now), (datetime(1960, 1, 1, tzinfo=UTC), datetime(2001, 1, 1, tzinfo=UTC)),
               (datetime(1969, 12, 31, tzinfo=UTC), datetime(1970, 1, 2, tzinfo=UTC)),
               (now - timedelta(days=3), None), (datetime(1999, 12, 31, tzinfo=UTC), now)]
    for start, end in windows:
        assert reader_groups(db, start, end) == raw_groups(db, start, end), (start, end)
    exact = sum(v[0] for v in raw_groups(db).values())
    assert exact == 3 + len(IMPOSSIBLE) + (3 if db.dialect.name == "postgresql" else 0)
    assert history.rollup_count(db) == exact
    assert history.rollup_count(db, statuses=("failed",)) == exact - 3
    start = datetime(1960, 1, 1, tzinfo=UTC)
    rows = run_rollups.error_messages(db, start, now, covered)
    assert int(rows["runs"].sum()) == sum(v[0] for v in raw_messages(db, start, now).values())
    outcome = rollups.refresh(db, now + timedelta(minutes=5))
    assert outcome["late_hours"] == 0 and rollups.reconcile(db, now, days=5) == []


def test_the_build_visits_only_hours_with_runs_and_a_1970_row_costs_nothing(db, rolled, monkeypatch):
    empty_app_tables(db)
    rolled.append(db)
    now = utc_now()
    impossible_runs(db, now)  # 1970, year 1, 9999...: before, the build walked 20,000 days from 1970
    moments = [datetime(2001, 3, 4, 10, 15), datetime(2012, 7, 1, 0, 5), datetime(2012, 7, 1, 23, 55),
               run_rollups.floor_hour(now) - timedelta(hours=5) + timedelta(minutes=1)]
    insert_runs(db, [Run("hubspot", "contacts", "success", now - m.replace(tzinfo=UTC), None) for m in moments], now)
    recomputed: list[datetime] = []
    real = rollups.recompute

    def counting(engine, hours, **state):
        hours = list(hours)
        recomputed.extend(hours)
        return real(engine, hours, **state)

    monkeypatch.setattr(rollups, "recompute", counting)
    statements: list[str] = []

    def count(conn, cursor, statement, *rest) -> None:
        statements.append(statement)

    event.listen(db, "before_cursor_execute", count)
    try:
        rollups.build(db, now)
    finally:
        event.remove(db, "before_cursor_execute", count)
    assert sorted(recomputed) == sorted({run_rollups.floor_hour(m) for m in moments})
    assert len(statements) < 150  # an hour-by-hour walk from 2001 would be 200,000 hours
    with app_db(db).connect() as conn:
        hours = [str(h)[:13] for (h,) in conn.execute(text(f"SELECT DISTINCT hour FROM {app_table(conn, 'run_hours')}"
                                                           " ORDER BY 1"))]
    assert hours == sorted(f"{run_rollups.floor_hour(m):%Y-%m-%d %H}" for m in moments)


def dump(db: Engine) -> dict[str, list[tuple]]:
    """Every rollup table's rows, sorted (the sample run's id aside: equal messages, either run)."""
    tables = {"run_hours": "*", "run_days": "*", "duration_days": "*",
              "error_hours": "hour, day, error_class, runs, failed, partial, last_seen, sample, sample_runs"}
    with app_db(db).connect() as conn:
        return {name: sorted((tuple(r) for r in conn.execute(text(f"SELECT {columns} FROM {app_table(conn, name)}"))),
                             key=repr) for name, columns in tables.items()}


class Killed(RuntimeError):
    pass


@pytest.mark.slow
def test_a_killed_build_resumes_where_it_stopped(db, rolled, monkeypatch):
    empty_app_tables(db)
    rolled.append(db)
    now = utc_now()
    insert_runs(db, [Run(("hubspot", "genius")[i % 2], "contacts", ("success", "failed")[i % 3 == 0],
                         timedelta(hours=7 * i + 2), timedelta(hours=7 * i + 1), processed=i, error=f"e{i % 4}")
                     for i in range(40)], now)  # 12 days
    steps = []

    def die_after_three(line: str) -> None:
        steps.append(line)
        if len(steps) == 3:
            raise Killed(line)

    with pytest.raises(Killed):
        rollups.build(db, now, progress=die_after_three)
    cursor = rollups.state(db)["build_cursor"]
    assert cursor is not None and run_rollups.ready(db) is None  # readers use the raw table meanwhile
    assert reader_groups_raw(db) == raw_groups(db)

    recomputed: list[datetime] = []
    real = rollups.recompute
    monkeypatch.setattr(rollups, "recompute", lambda e, hours, **s: (recomputed.extend(hours := list(hours)),
                                                                    real(e, hours, **s))[1])
    rollups.build(db, now)
    resumed = dump(db)
    assert recomputed and min(recomputed) >= _naive(cursor)  # nothing before the cursor again
    rollups.build(db, now, resume=False)
    assert resumed == dump(db)
    assert reader_groups(db) == raw_groups(db)


def _naive(value) -> datetime:
    import pandas as pd

    return pd.Timestamp(value).to_pydatetime()


def reader_groups_raw(db: Engine) -> dict:
    """``run_rows`` without rollups (what the pages read while a build runs)."""
    frame = run_rollups.hour_rows(db, None, None, histogram=False)
    groups: dict = {}
    for row in frame.itertuples(index=False):
        key = (key_value(row.crm_source), key_value(row.sync_type))
        runs, records = groups.get(key, (0, 0))
        groups[key] = (runs + int(row.runs), records + int(row.records_processed))
    return groups


@pytest.mark.slow
def test_a_late_run_is_counted_before_and_after_the_next_refresh(db, rolled):
    empty_app_tables(db)
    rolled.append(db)
    now = utc_now()
    insert_runs(db, [Run("hubspot", "contacts", ("success", "failed")[i % 2], timedelta(hours=5 * i + 1),
                         timedelta(hours=5 * i), processed=i, error="boom") for i in range(36)], now)
    rollups.build(db, now)
    rollups.refresh(db, now)
    later = now + timedelta(minutes=3)
    late = insert_runs(db, [Run("genius", "deals", "failed", timedelta(days=5), timedelta(days=5) - timedelta(
        minutes=1), processed=1000, error="arrived late")], later)[0]
    covered = run_rollups.ready(db)
    day = run_rollups.floor_day(late.start(later))
    assert run_rollups.dirty_hours(db, covered) == {run_rollups.floor_hour(late.start(later))}  # read raw meanwhile
    window = (later - timedelta(days=6), later - timedelta(days=4))
    assert reader_groups(db, *window) == raw_groups(db, *window)
    week = (later - timedelta(days=7), later)
    assert reader_groups(db, *week) == raw_groups(db, *week)
    assert reader_groups(db) == raw_groups(db)
    f = history.FilterValues(start=week[0], end=week[1], statuses=("failed",))
    assert history.rollup_count(db, **f) == raw_count(db, week[0], week[1], "failed")
    messages = run_rollups.error_messages(db, *week, covered)
    assert int(messages["runs"].sum()) == sum(v[0] for v in raw_messages(db, *week).values())
    assert "arrived late" in set(messages["message"])

    # a backfill: a run a day for 30 days before the first, more hours apart than readers take one by one
    backfill = insert_runs(db, [Run("backfill", "contacts", "success", timedelta(days=d, minutes=d),
                                    timedelta(days=d), processed=d) for d in range(8, 38)], later)
    assert len(run_rollups.dirty_hours(db, covered)) == 1 + len(backfill) > run_rollups.MAX_DIRTY_RANGES
    for window in ((None, None), (later - timedelta(days=40), later), (later - timedelta(days=20), later)):
        assert reader_groups(db, *window) == raw_groups(db, *window), window
    outcome = rollups.refresh(db, later)
    assert outcome["late_hours"] == 1 + len(backfill)
    assert run_rollups.dirty_hours(db, run_rollups.ready(db)) == frozenset()
    with app_db(db).connect() as conn:
        rolled_late = conn.execute(text(f"SELECT SUM(runs), SUM(records_processed) FROM {app_table(conn, 'run_days')} "
                                        f"WHERE crm_source = 'genius' AND day_utc = :d"),
                                   {"d": run_rollups.day_text(day)}).one()
    assert tuple(int(v) for v in rolled_late) == (1, 1000)
    assert reader_groups(db, *week) == raw_groups(db, *week)
    assert history.rollup_count(db, **f) == raw_count(db, week[0], week[1], "failed")


def raw_count(db: Engine, start: datetime, end: datetime, status: str) -> int:
    with db.connect() as conn:
        b = Binds(conn)
        return int(conn.execute(sql(f"SELECT COUNT(*) FROM {table(conn, 'sync_history')} WHERE status = "
                                    f"{b.bind(status)} AND start_time >= {b.bind(start)} AND start_time < "
                                    f"{b.bind(end)}", params=tuple(b.time_params)), b.params).scalar())


def test_dirty_hours_are_read_raw_as_few_ranges():
    """Consecutive dirty hours are one raw range; more ranges than MAX_DIRTY_RANGES are one."""
    covered = datetime(2026, 3, 10, 12)
    start, end = datetime(2026, 3, 1, 0, 30, tzinfo=UTC), datetime(2026, 3, 10, 15, tzinfo=UTC)
    hour = datetime(2026, 3, 5, 7)
    dirty = frozenset({hour, hour + timedelta(hours=1), datetime(2026, 2, 1), datetime(2026, 3, 11)})
    raw, spans = run_rollups.split_window(start, end, covered, dirty)
    assert raw == [(start, datetime(2026, 3, 1, 1, tzinfo=UTC)),
                   (hour.replace(tzinfo=UTC), (hour + timedelta(hours=2)).replace(tzinfo=UTC)),
                   (covered.replace(tzinfo=UTC), end)]
    assert spans == [(datetime(2026, 3, 1, 1), hour), (hour + timedelta(hours=2), covered)]
    many = frozenset(datetime(2026, 3, 1, 5) + timedelta(hours=3 * i) for i in range(30))
    raw, spans = run_rollups.split_window(start, end, covered, many)
    assert raw[1] == (datetime(2026, 3, 1, 5, tzinfo=UTC), datetime(2026, 3, 4, 21, tzinfo=UTC))
    assert spans == [(datetime(2026, 3, 1, 1), datetime(2026, 3, 1, 5)), (datetime(2026, 3, 4, 21), covered)]
