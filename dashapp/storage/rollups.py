"""Keeps the run rollups (``run_hours``, ``run_days``, ``error_hours``) in the app's own tables.

They hold the runs started in [``time_bounds.EARLIEST``, ``covered_until``); runs outside (before
2000, ±infinity, in the future) are never rolled up and never visited: readers take them raw.

Built by ``python app.py db upgrade`` (``build``): one loose index scan finds the hours that hold
runs, and they are rolled up a UTC day at a time, each day committed with the build's progress
(``build_cursor``), so a killed build resumes where it stopped; readers ignore the rollups until
the build has set ``covered_until``. Kept current by the app (``refresh``, every
ROLLUP_REFRESH_SECONDS in a background thread of the web process, or ``python app.py rollups
refresh`` from cron):
- the hours since the rollups' edge (``covered_until``) up to the current hour, and every hour of
  the last ROLLUP_RECENT_HOURS, are recomputed from the raw table;
- so is every hour that holds a run still running, in the raw table or in the rollup (a run
  that closed since the last cycle), started in the last RUNNING_DAYS;
- so is every hour of a run written since the last cycle (id above ``last_id``, the high-water
  mark: a late insert has a higher id), however far back it started; until then the readers
  read its hour raw (``queries.run_rollups.dirty_hours``);
- a slow reconciliation checks RECONCILE_DAYS closed UTC days per cycle, walking back from
  yesterday to the first run and round again: per CRM, sync type and status class, the raw
  table's count, record sums, finished count and duration sum of the day against ``run_days``;
  a day that differs (a row corrected, moved to another CRM, class or day, or deleted later) has
  its 24 hours recomputed. What it cannot see: a change that keeps every one of those figures (a
  start moved within its UTC day, two runs trading their record counts).
An hour is recomputed whole: its rows are deleted and written again in one transaction, so a
run that moved or vanished leaves nothing behind. Readers use the rollups for hours before
``covered_until`` and the raw table after it (``queries.run_rollups.run_rows``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, Engine, Table, delete, insert, select, text, update

from dashapp.storage import periodic
from dashapp.storage.app_tables import duration_days, error_hours, rollup_state, run_days, run_hours
from queries import outcomes
from queries import run_rollups as q
from queries._sql import Binds, app_db, app_table, app_tables_exist, connect, duration_sql, duration_sum_sql, sql, table
from queries.clock import utc_now
from queries.copy_rows import copy_rows

log = logging.getLogger(__name__)
RECENT_HOURS = 6
RUNNING_DAYS = 7
RECONCILE_DAYS = 2
LOCK_ID = 7_316_016  # pg_try_advisory_xact_lock: one refresh at a time across processes


def available(engine: Engine) -> bool:
    return app_tables_exist(engine, "rollup_state")


def _ranges(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted hours as [start, end) ranges of consecutive hours, a day at most each (a catch-up
    after days away stays one statement a day, well inside a statement timeout)."""
    ranges: list[list[datetime]] = []
    for hour in sorted(set(hours)):
        if ranges and ranges[-1][1] == hour and hour - ranges[-1][0] < timedelta(days=1):
            ranges[-1][1] = hour + timedelta(hours=1)
        else:
            ranges.append([hour, hour + timedelta(hours=1)])
    return [(a, b) for a, b in ranges]


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    rows = frame[columns].astype(object).where(frame[columns].notna(), None).to_dict("records")
    for row in rows:
        for name in ("hour", "last_seen"):
            if isinstance(row.get(name), pd.Timestamp):
                row[name] = row[name].to_pydatetime()
    return rows


def _write(conn: Connection, target: Table, frame: pd.DataFrame) -> None:
    """Append ``frame``'s rows to ``target``: one COPY on PostgreSQL (``queries.copy_rows``: any
    text round-trips, NULL distinct from ''), executemany on SQLite."""
    if frame.empty:
        return
    columns = [c.name for c in target.columns]
    if conn.dialect.name != "postgresql":
        conn.execute(insert(target), _records(frame, columns))
        return
    copy_rows(conn, app_table(conn, target.name), columns, frame)


def _lock(conn: Connection) -> bool:
    if conn.dialect.name == "postgresql":
        return bool(conn.execute(text(f"SELECT pg_try_advisory_xact_lock({LOCK_ID})")).scalar())
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite: take the write lock first
    return True


def recompute(engine: Engine, hours: Iterable[datetime], **new_state: object) -> int:
    """Recompute ``hours`` (naive UTC hour starts, inside [EARLIEST, the current hour)) from the
    raw table, and the UTC days they are in; ``new_state`` (``covered_until``, ``build_cursor``,
    ``last_id``) is written to ``rollup_state`` in the same transaction. Returns the rows
    written, or -1 when another process holds the refresh."""
    ranges = _ranges(hours)
    computed = [(a, b, q.hour_rows(engine, a.replace(tzinfo=UTC), b.replace(tzinfo=UTC)),
                 q.error_rows(engine, a.replace(tzinfo=UTC), b.replace(tzinfo=UTC))) for a, b in ranges]
    days = sorted({q.floor_day(a + timedelta(hours=i))
                   for a, b in ranges for i in range(int((b - a) / timedelta(hours=1)))})
    written = 0
    with app_db(engine).begin() as conn:
        if not _lock(conn):
            return -1
        for a, b, runs, errors in computed:
            conn.execute(delete(run_hours).where(run_hours.c.hour >= a, run_hours.c.hour < b))
            conn.execute(delete(error_hours).where(error_hours.c.hour >= a, error_hours.c.hour < b))
            _write(conn, run_hours, runs)
            _write(conn, error_hours, errors)
            written += len(runs) + len(errors)
        _sum_days(conn, days)
        if new_state:
            if "covered_until" in new_state:
                new_state["refreshed_at"] = utc_now().replace(tzinfo=None)
            _set_state(conn, **new_state)
    return written


def _sum_days(conn: Connection, days: list[datetime]) -> None:
    """``run_days`` and ``duration_days`` of ``days`` (UTC midnights) again from ``run_hours``."""
    values = [*q.COUNTS, *q.SECONDS, *q.DURATIONS]
    day_utc = ("to_char(hour, 'YYYY-MM-DD')" if conn.dialect.name == "postgresql"
               else "strftime('%Y-%m-%d', hour)")
    hours_table = _name(conn, "run_hours")
    for start in range(0, len(days), 200):
        chunk = days[start:start + 200]
        names = [q.day_text(d) for d in chunk]
        conn.execute(delete(run_days).where(run_days.c.day_utc.in_(names)))
        conn.execute(delete(duration_days).where(duration_days.c.day_utc.in_(names)))
        b = Binds(conn)
        low, high = b.bind_app_time(chunk[0]), b.bind_app_time(chunk[-1] + timedelta(days=1))
        chosen = ", ".join(b.bind(d) for d in names)
        conn.execute(sql(f"""
            INSERT INTO {_name(conn, 'run_days')} (day_utc, day, crm_source, sync_type, status_class,
                                                   {', '.join(values)})
            SELECT {day_utc}, day, crm_source, sync_type, status_class, {', '.join(f'SUM({c})' for c in values)}
            FROM {hours_table} WHERE hour >= {low} AND hour < {high} AND {day_utc} IN ({chosen})
            GROUP BY 1, 2, 3, 4, 5""", params=tuple(b.time_params)), b.params)
        histogram = ["duration_count", *q.DURATIONS]
        conn.execute(sql(f"""
            INSERT INTO {_name(conn, 'duration_days')} (day_utc, day, crm_source, {', '.join(histogram)})
            SELECT day_utc, day, crm_source, {', '.join(f'SUM({c})' for c in histogram)}
            FROM {_name(conn, 'run_days')} WHERE day_utc IN ({chosen}) AND status_class IN ('success', 'partial')
            GROUP BY 1, 2, 3"""), b.params)


def _name(conn: Connection, name: str) -> str:
    return app_table(conn, name)


def _set_state(conn: Connection, **values: object) -> None:
    if conn.execute(update(rollup_state).where(rollup_state.c.name == q.STATE).values(**values)).rowcount == 0:
        conn.execute(insert(rollup_state).values(name=q.STATE, **values))


def state(engine: Engine) -> dict:
    with app_db(engine).connect() as conn:
        row = conn.execute(select(rollup_state).where(rollup_state.c.name == q.STATE)).mappings().first()
    return dict(row) if row else {}


def _naive(value: object) -> datetime | None:
    """A time read from the app's tables (naive UTC; text on SQLite) as a datetime."""
    return None if value is None else pd.Timestamp(value).to_pydatetime()


def first_run(engine: Engine, now: datetime | None = None) -> datetime | None:
    """The earliest start_time the rollups cover (from EARLIEST, before the current hour)."""
    with connect(engine) as conn:
        return q.next_start(conn, q.EARLIEST_HOUR, q.floor_hour(now or utc_now()))


def max_id(engine: Engine) -> int | None:
    """The highest sync_history.id (one probe of its primary key)."""
    with connect(engine) as conn:
        value = conn.exec_driver_sql(f"SELECT MAX(id) FROM {table(conn, 'sync_history')}").scalar()
    return None if value is None else int(value)


def build(engine: Engine, now: datetime | None = None, progress: Callable[[str], None] = log.info,
          step: timedelta = timedelta(days=1), resume: bool = True) -> int:
    """Roll up the runs that started in [EARLIEST, the current hour), ``step`` (whole UTC days)
    at a time, visiting only the hours that hold runs; returns the rows written. Each step is
    committed with its progress (``build_cursor``): a build that was killed resumes there (with
    ``resume``) instead of starting again. Readers use the rollups only once it has finished."""
    edge = q.floor_hour(now or utc_now())
    began, written = time.monotonic(), 0
    cursor = _start_build(engine, resume)
    hours = q.hours_with_runs(engine, cursor, edge) if cursor < edge else []
    for stop, chunk in _steps(hours, max(step, timedelta(days=1)), edge):
        written += max(0, recompute(engine, chunk, build_cursor=stop))
        progress(f"rollups: runs up to {q.day_text(stop)} {stop:%H}:00 UTC rolled up ({len(chunk)} hours with "
                 f"runs in this step, {written:,} rows, {time.monotonic() - began:.1f} s)")
    recompute(engine, [], covered_until=edge, build_cursor=None)
    if not written:
        progress("rollups: no closed hours with runs yet")
    _vacuum(engine)
    return written


def _steps(hours: list[datetime], step: timedelta, edge: datetime) -> list[tuple[datetime, list[datetime]]]:
    """``hours`` (sorted) in steps of whole UTC days: (where the step ends, its hours)."""
    steps: list[tuple[datetime, list[datetime]]] = []
    for hour in hours:
        if not steps or hour >= steps[-1][0]:
            steps.append((min(edge, q.floor_day(hour) + step), []))
        steps[-1][1].append(hour)
    return steps


def _start_build(engine: Engine, resume: bool) -> datetime:
    """Where the build starts: the progress of an unfinished build (with ``resume``), else from
    EARLIEST with the rollups emptied and the id high-water mark taken first (rows that arrive
    during the build are recomputed by the first refresh)."""
    current = state(engine)
    cursor = _naive(current.get("build_cursor"))
    if resume and cursor is not None and current.get("covered_until") is None:
        log.info("rollups: resuming the build from %s UTC", cursor)
        return cursor
    highest = max_id(engine)
    with app_db(engine).begin() as conn:
        for target in (run_hours, run_days, duration_days, error_hours):
            conn.execute(delete(target))
        _set_state(conn, covered_until=None, reconciled_day=None, build_cursor=q.EARLIEST_HOUR, last_id=highest)
    return q.EARLIEST_HOUR


def _vacuum(engine: Engine) -> None:
    """On PostgreSQL, VACUUM ANALYZE the freshly built rollups: the planner learns their sizes
    (else it guesses a few rows and sorts), and the visibility map lets the covering indexes
    answer without visiting the table."""
    database = app_db(engine)
    if database.dialect.name != "postgresql":
        return
    with database.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for target in (run_hours, run_days, duration_days, error_hours):
            conn.exec_driver_sql(f"VACUUM ANALYZE {app_table(conn, target.name)}")


def hours_to_refresh(engine: Engine, now: datetime, covered: datetime | None) -> list[datetime]:
    """The hours a refresh recomputes for time's sake (see the module's docstring; the late
    runs' hours are ``late_hours``)."""
    edge = q.floor_hour(now)
    since = max(q.EARLIEST_HOUR, min(covered or edge, edge - timedelta(hours=RECENT_HOURS)))
    hours = {since + timedelta(hours=i) for i in range(int((edge - since) / timedelta(hours=1)))}
    running_since = max(q.EARLIEST_HOUR, edge - timedelta(days=RUNNING_DAYS))
    with connect(engine) as conn:
        b = Binds(conn)
        starts = b.frame(f"""SELECT DISTINCT start_time FROM {table(conn, 'sync_history')}
                             WHERE {outcomes.in_class(conn, 'running')}
                               AND start_time >= {b.bind(running_since.replace(tzinfo=UTC))}
                               AND start_time < {b.bind(edge.replace(tzinfo=UTC))}""",
                         times=("start_time",))["start_time"]
    hours.update(q.floor_hour(s.to_pydatetime()) for s in starts if not pd.isna(s))
    with app_db(engine).connect() as conn:
        hours.update(pd.Timestamp(h).to_pydatetime() for (h,) in conn.execute(
            select(run_hours.c.hour).distinct().where(run_hours.c.status_class == "running",
                                                      run_hours.c.hour >= running_since)))
    return sorted(h for h in hours if h < edge)


def late_hours(engine: Engine, last_id: int | None, edge: datetime) -> list[datetime]:
    """The hours in [EARLIEST, edge) of the runs written after ``last_id`` (the high-water mark
    of the last cycle): one range scan of the primary key, whatever the runs' age."""
    if last_id is None:
        return []
    return q.hours_after_id(engine, last_id, edge)


def refresh(engine: Engine, now: datetime | None = None) -> dict:
    """One cycle: recompute the hours that may have changed (the recent ones, those of running
    runs, and those of every run written since the last cycle, however far back it started),
    move the edge to the current hour and the id mark to the highest id, then reconcile a few
    closed days. Builds everything when nothing was built yet (or resumes a killed build)."""
    now = now or utc_now()
    began = time.monotonic()
    covered = q.ready(engine)
    if covered is None:
        return {"built": build(engine, now), "seconds": round(time.monotonic() - began, 3)}
    edge = q.floor_hour(now)
    highest = max_id(engine)  # first: a row written while the hours are computed is seen next cycle
    late = late_hours(engine, state(engine).get("last_id"), covered)
    hours = sorted(set(hours_to_refresh(engine, now, covered)) | set(late))
    written = recompute(engine, hours, covered_until=edge, last_id=highest)
    fixed = reconcile(engine, now)
    return {"hours": len(hours), "late_hours": len(late), "rows": written, "reconciled_fixed": fixed,
            "seconds": round(time.monotonic() - began, 3)}


def _raw_day_totals(engine: Engine, day: datetime) -> dict[tuple, tuple]:
    """The UTC day's runs per (CRM, sync type, status class): count, record sums, finished runs
    and their duration sum (seconds, to the millisecond)."""
    with connect(engine) as conn:
        b = Binds(conn)
        seconds = duration_sum_sql(conn)
        frame = b.frame(f"""
            SELECT crm_source, sync_type, COALESCE({outcomes.class_case(conn)}, 'unknown') AS status_class,
                   COUNT(*) AS runs, COALESCE(SUM(records_processed), 0) AS p, COALESCE(SUM(records_created), 0) AS c,
                   COALESCE(SUM(records_updated), 0) AS u, COALESCE(SUM(records_failed), 0) AS f,
                   COUNT({duration_sql(conn)}) AS finished, CAST(COALESCE({seconds}, 0) AS DOUBLE PRECISION) AS seconds
            FROM {table(conn, 'sync_history')}
            WHERE start_time >= {b.bind(day.replace(tzinfo=UTC))}
              AND start_time < {b.bind(day.replace(tzinfo=UTC) + timedelta(days=1))}
            GROUP BY 1, 2, 3""")
    return _totals(frame)


def _rollup_day_totals(engine: Engine, day: datetime) -> dict[tuple, tuple]:
    with app_db(engine).connect() as conn:
        b = Binds(conn)
        frame = b.frame(f"""
            SELECT crm_source, sync_type, status_class, SUM(runs) AS runs, SUM(records_processed) AS p,
                   SUM(records_created) AS c, SUM(records_updated) AS u, SUM(records_failed) AS f,
                   SUM(duration_count) AS finished, SUM(duration_sum) AS seconds
            FROM {_name(conn, 'run_days')} WHERE day_utc = {b.bind(q.day_text(day))}
            GROUP BY 1, 2, 3""")
    return _totals(frame)


def _totals(frame: pd.DataFrame) -> dict[tuple, tuple]:
    return {(q.key_value(r.crm_source), q.key_value(r.sync_type), r.status_class):
            (*(int(v) for v in (r.runs, r.p, r.c, r.u, r.f, r.finished)), float(r.seconds or 0))
            for r in frame.itertuples(index=False) if int(r.runs)}


def _same(raw: dict[tuple, tuple], rolled: dict[tuple, tuple]) -> bool:
    """Equal counts and sums per key; duration sums equal to a millisecond (added in another order)."""
    return raw.keys() == rolled.keys() and all(
        raw[k][:-1] == rolled[k][:-1] and abs(raw[k][-1] - rolled[k][-1]) < 1e-3 for k in raw)


def reconcile(engine: Engine, now: datetime, days: int = RECONCILE_DAYS) -> list[str]:
    """Check ``days`` closed UTC days against the raw table (from the cursor back), per CRM, sync
    type and status class: counts, record sums, finished runs and their duration sum; recompute
    the days that differ. Returns the days fixed."""
    first = first_run(engine, now)
    if first is None:
        return []
    yesterday = q.floor_day(now) - timedelta(days=1)
    cursor_text = state(engine).get("reconciled_day")
    cursor = q.parse_day(cursor_text) - timedelta(days=1) if cursor_text else yesterday
    fixed = []
    for _ in range(days):
        if cursor < q.floor_day(first) or cursor > yesterday:
            cursor = yesterday
        if cursor < q.floor_day(first):  # no closed day with runs yet
            break
        if not _same(_raw_day_totals(engine, cursor), _rollup_day_totals(engine, cursor)):
            recompute(engine, [cursor + timedelta(hours=i) for i in range(24)])
            fixed.append(q.day_text(cursor))
        with app_db(engine).begin() as conn:
            _set_state(conn, reconciled_day=q.day_text(cursor))
        cursor -= timedelta(days=1)
    if fixed:
        log.info("rollups: reconciliation recomputed %s", ", ".join(fixed))
    return fixed


_loop: threading.Thread | None = None


def start_loop(engine: Engine, every_seconds: float) -> threading.Thread | None:
    """The web process's refresher (one per process, in every instance). Each cycle is claimed in
    ``periodic_runs`` first (``dashapp.storage.periodic``): one process of all of them refreshes per
    cycle and the others skip it; the advisory lock still keeps two writers apart. Each cycle does
    nothing until the rollups exist (``db upgrade`` built them, maybe after this process started);
    a read-only database without them costs one catalogue look."""
    global _loop
    if _loop is not None or every_seconds <= 0:
        return _loop

    def loop() -> None:
        while True:
            # first a cycle's wait: a worker that just started serves its first requests without a
            # refresh beside it (readers are exact meanwhile: they take the raw table past the edge)
            time.sleep(every_seconds)
            try:
                if not available(engine) or q.ready(engine) is None:
                    continue
                if periodic.claim(engine, periodic.ROLLUPS, every_seconds):
                    log.info("rollups: refreshed: %s", refresh(engine))
                else:
                    log.debug("rollups: cycle left to the process that claimed it")
            except Exception:  # noqa: BLE001 - a failed cycle is logged; readers fall back to the raw edge
                log.exception("rollups: refresh failed")

    _loop = threading.Thread(target=loop, name="rollups", daemon=True)
    _loop.start()
    return _loop
