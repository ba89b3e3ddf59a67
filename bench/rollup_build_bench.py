"""The rollup build (``python app.py db upgrade``) and refresh on a filled warehouse, beside the floor.

    python -m bench.rollup_build_bench [--rows 5000000] [--days 58] [--reuse] [--database NAME]

On ``--rows`` runs over ``--days`` days (the user's three documented indexes only) plus runs at
impossible times (1970, year 1, 9999, -infinity, infinity), prints:
- the floor: one GROUP BY of the whole table per UTC hour and key (what any build must read);
- the build: seconds, rollup rows, statements sent, hours visited; target 3 minutes on 5M runs;
- a build killed halfway, then resumed: the seconds of the resumed part, and whether the rollups
  equal a clean build's;
- a refresh after a run written with a start 5 days back: seconds, hours recomputed, and the run
  counted in run_days after it.
"""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

from sqlalchemy import event, text

from bench.fill import database_arguments, database_url, fill
from dashapp.storage import migrate, rollups
from dashapp.storage.db import postgres_engine
from queries import run_rollups
from queries.clock import utc_now

TARGET_SECONDS = 180
ODD_TIMES = ("1970-01-01 00:30", "0001-01-01 05:00", "9999-12-30 01:00", "-infinity", "infinity")


class Killed(RuntimeError):
    pass


def _odd_runs(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM orchestration.sync_history WHERE crm_source = 'clock'"))
        for moment in ODD_TIMES:
            conn.execute(text("INSERT INTO orchestration.sync_history (crm_source, sync_type, status, start_time, "
                              "records_processed) VALUES ('clock', 'odd', 'failed', CAST(:t AS timestamp), 1)"),
                         {"t": moment})


def _floor(engine) -> float:
    """One aggregate of the whole table per UTC hour, CRM, sync type and status: the floor."""
    began = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(text("SELECT date_trunc('hour', start_time), crm_source, sync_type, status, COUNT(*), "
                          "SUM(records_processed) FROM orchestration.sync_history "
                          "WHERE start_time >= '2000-01-01' GROUP BY 1, 2, 3, 4")).fetchall()
    return time.perf_counter() - began


def _totals(engine) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT COUNT(*) FROM sync_monitor.run_hours), (SELECT SUM(runs) FROM sync_monitor.run_hours), "
            "(SELECT SUM(runs) FROM sync_monitor.run_days), "
            "(SELECT SUM(records_processed) FROM sync_monitor.run_days), "
            "(SELECT COUNT(*) FROM sync_monitor.error_hours), (SELECT SUM(runs) FROM sync_monitor.error_hours)")).one())


def main() -> None:
    parser = database_arguments(__doc__.splitlines()[0], 5_000_000)
    parser.set_defaults(database="lane_a_rollup_bench")
    parser.add_argument("--days", type=int, default=58)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    url = database_url(args.admin_url, args.database)
    if not args.reuse:
        print(f"filled {args.rows:,} runs over {args.days} days in "
              f"{fill(args.admin_url, args.database, args.rows, args.days):.0f} s", flush=True)
    engine = postgres_engine(url, "orchestration")
    _odd_runs(engine)
    migrate.upgrade(engine)
    print(f"floor: one GROUP BY of every run per hour and key: {_floor(engine):.1f} s", flush=True)

    now = utc_now()
    statements: list[str] = []
    steps: list[str] = []

    def count(conn, cursor, statement, *rest) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    began = time.perf_counter()
    rows = rollups.build(engine, now, progress=steps.append, resume=False)
    seconds = time.perf_counter() - began
    event.remove(engine, "before_cursor_execute", count)
    with engine.connect() as conn:
        hours = conn.execute(text("SELECT COUNT(DISTINCT hour) FROM sync_monitor.run_hours")).scalar()
    verdict = "within" if seconds <= TARGET_SECONDS else "OVER"
    print(f"build: {seconds:.1f} s for {rows:,} rollup rows, {len(statements):,} statements, {hours:,} hours "
          f"visited, {len(steps)} steps ({verdict} the {TARGET_SECONDS} s target)", flush=True)
    clean = _totals(engine)

    def die_halfway(line: str) -> None:
        steps.append(line)
        if len(steps) == half:
            raise Killed(line)

    steps.clear()
    half = max(1, args.days // 2)
    began = time.perf_counter()
    with contextlib.suppress(Killed):
        rollups.build(engine, now, progress=die_halfway, resume=False)
    killed = time.perf_counter() - began
    began = time.perf_counter()
    rollups.build(engine, now, progress=lambda line: None)
    resumed = time.perf_counter() - began
    same = _totals(engine) == clean
    print(f"killed after {half} steps ({killed:.1f} s); the resumed build took {resumed:.1f} s; "
          f"rollups equal a clean build's: {same}", flush=True)

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO orchestration.sync_history (crm_source, sync_type, status, start_time, "
                          "end_time, records_processed) VALUES ('late', 'bench', 'success', "
                          "(now() AT TIME ZONE 'UTC') - interval '5 days', "
                          "(now() AT TIME ZONE 'UTC') - interval '5 days' + interval '1 minute', 1)"))
    covered = run_rollups.ready(engine)
    dirty_began = time.perf_counter()
    dirty = run_rollups.dirty_hours(engine, covered)
    dirty_ms = (time.perf_counter() - dirty_began) * 1000
    began = time.perf_counter()
    outcome = rollups.refresh(engine, now + timedelta(minutes=1))
    refresh_seconds = time.perf_counter() - began
    with engine.connect() as conn:
        counted = conn.execute(text("SELECT COALESCE(SUM(runs), 0) FROM sync_monitor.run_days "
                                    "WHERE crm_source = 'late'")).scalar()
    print(f"late run (5 days back): dirty hours before the refresh {len(dirty)} (probe {dirty_ms:.1f} ms); "
          f"refresh {refresh_seconds:.2f} s, {outcome['hours']} hours ({outcome['late_hours']} late); "
          f"counted in run_days after it: {counted}", flush=True)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM orchestration.sync_history WHERE crm_source = 'late'"))
    engine.dispose()


if __name__ == "__main__":
    main()
