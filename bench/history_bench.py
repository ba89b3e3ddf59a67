"""Times the history, overview, performance and error queries on a large PostgreSQL history, each
beside its floor (the same SQL run straight through psycopg2), and the CSV export beside COPY.

    python -m bench.history_bench [--rows 1000000] [--reuse] [--repeat 15]

It fills a database (bench.fill) unless --reuse, then measures twice: with only the user's three
indexes, and with the README's recommended ones. Prints medians, p95 and ratios. Targets (1M
rows, 2 cores): page queries p95 <= 100 ms; export >= 50% of COPY's rows/s, < 100 MB growth.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import psutil
from sqlalchemy import event

from bench.fill import database_arguments, database_url, fill, set_recommended_indexes
from dashapp.config import load_settings
from dashapp.payloads import errors as errors_payloads
from dashapp.payloads import performance as performance_payloads
from dashapp.storage.db import postgres_engine
from queries.choices import filter_values
from queries.clock import utc_now
from queries.crm_status import crm_status
from queries.errors import daily_messages
from queries.history import FilterValues, history_count, history_page
from queries.overview import overview_counts
from queries.performance import daily_percentiles, daily_rollup
from queries.recent_syncs import recent_syncs


def cases(now) -> list[tuple[str, Callable]]:
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    failed_two = FilterValues(start=month, statuses=("failed",), crm_sources=("genius", "hubspot"))
    return [
        ("overview: counts", lambda e: overview_counts(e, now)),
        ("overview: latest run per CRM + schedules", lambda e: crm_status(e, now)),
        ("overview: recent 20", lambda e: recent_syncs(e, 20, now)),
        ("history: 7 d, newest first, 100 rows", lambda e: history_page(e, 0, 100, now, start=week)),
        ("history: failed, 2 CRMs, 30 d, 100 rows", lambda e: history_page(e, 0, 100, now, **failed_two)),
        ("history: 7 d by duration desc", lambda e: history_page(
            e, 0, 100, now, start=week, sort=(("duration_seconds", "desc"),))),
        ("history: 7 d error contains 'timeout'", lambda e: history_page(
            e, 0, 100, now, start=week, q="timeout")),
        ("history: all, offset 50,000", lambda e: history_page(e, 50_000, 100, now)),
        ("history: 30 d processed>4000, crm asc, records desc", lambda e: history_page(
            e, 0, 100, now, start=month, sort=(("crm_source", "asc"), ("records_processed", "desc")),
            columns={"records_processed": {"filterType": "number", "type": "greaterThan", "filter": 4000}})),
        ("count: 7 d (capped at 100k)", lambda e: history_count(e, start=week)),
        ("count: failed, 2 CRMs, 30 d", lambda e: history_count(e, **failed_two)),
        ("count: all (estimate past cap)", lambda e: history_count(e)),
        ("filter choices: CRM, status, sync type", filter_values),
        ("performance: daily rollup, 7 d (uncached)", lambda e: daily_rollup(e, week, now)),
        ("performance: daily p50/p95 per CRM and overall, 7 d (uncached)", lambda e: daily_percentiles(e, week, now)),
        ("performance page refresh (closed days cached)",
         lambda e: performance_payloads.performance_frames(e, week, now)),
        ("errors: daily messages, 7 d (uncached)", lambda e: daily_messages(e, week, now)),
        ("errors page refresh (closed days cached)", lambda e: errors_payloads.errors_frames(e, week, now)),
    ]


class Recorder:
    """Captures the SQL an app function sends, to replay it raw as the floor."""

    def __init__(self, engine) -> None:
        self.statements: list[tuple[str, object]] = []
        self.active = False
        event.listen(engine.engine, "before_cursor_execute", self._capture)

    def _capture(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        if self.active:
            self.statements.append((statement, parameters))


def measure(callable_: Callable[[], object], repeat: int) -> list[float]:
    callable_()  # warm caches and plans
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        callable_()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


def with_floor(engine, recorder: Recorder, raw, case: Callable, repeat: int) -> tuple[list[float], list[float]]:
    """Times of ``case(engine)``, and of the same SQL it sends replayed straight through the
    driver (the floor), in milliseconds."""
    app_times = measure(lambda: case(engine), repeat)
    recorder.statements, recorder.active = [], True
    case(engine)
    recorder.active = False
    captured = list(recorder.statements)
    return app_times, measure(lambda: replay(raw, captured), repeat)


def replay(raw, captured: list) -> None:
    """Send the captured statements straight through the driver's connection ``raw``: the floor."""
    cursor = raw.cursor()
    for statement, parameters in captured:
        cursor.execute(statement, parameters)
        if cursor.description:
            cursor.fetchall()
    cursor.close()
    raw.rollback()


def run_queries(engine, repeat: int) -> list[tuple[str, float, float, float]]:
    recorder = Recorder(engine)
    raw = engine.raw_connection()
    results = []
    for name, case in cases(utc_now()):
        app_times, floor_times = with_floor(engine, recorder, raw, case, repeat)
        results.append((name, statistics.median(app_times), p95(app_times), statistics.median(floor_times)))
    raw.close()
    return results


class PeakRss:
    def __init__(self) -> None:
        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1e6


def run_export(engine, app) -> tuple[int, float, float, float, float]:
    """(rows, export rows/s, growth MB, COPY rows/s, COPY bytes/s) for every row in the table."""
    client = app.server.test_client()
    with PeakRss() as memory:
        started = time.perf_counter()
        response = client.get("/export/sync-history.csv?range=all", buffered=False)
        size = lines = 0
        for chunk in response.response:
            size += len(chunk)
            lines += chunk.count(b"\n")
        export_seconds = time.perf_counter() - started
    rows = lines - 1
    raw = engine.raw_connection()
    cursor = raw.cursor()

    class Sink:
        bytes = 0

        def write(self, data) -> None:
            Sink.bytes += len(data)

    started = time.perf_counter()
    cursor.copy_expert("COPY (SELECT id, crm_source, sync_type, endpoint, status, start_time, end_time, "
                       "EXTRACT(EPOCH FROM (end_time - start_time)), records_processed, records_created, "
                       "records_updated, records_failed, error_message FROM orchestration.sync_history "
                       "ORDER BY start_time DESC, id DESC) TO STDOUT WITH CSV HEADER", Sink())
    copy_seconds = time.perf_counter() - started
    raw.close()
    return rows, rows / export_seconds, memory.growth_mb, rows / copy_seconds, size / export_seconds


def report(title: str, results, export) -> None:
    print(f"\n{title}")
    print(f"{'query':<55} {'median ms':>10} {'p95 ms':>8} {'floor ms':>9} {'ratio':>6}  target")
    for name, median, high, floor in results:
        target = "ok" if high <= 100 else "MISSED (p95 > 100 ms)"
        print(f"{name:<55} {median:>10.1f} {high:>8.1f} {floor:>9.1f} {median / max(floor, 0.01):>6.1f}  {target}")
    if export:
        rows, rate, growth, copy_rate, _ = export
        verdict = "ok" if rate >= copy_rate / 2 and growth < 100 else "MISSED"
        print(f"export CSV: {rows:,} rows at {rate:,.0f} rows/s, peak RSS growth {growth:.1f} MB; "
              f"COPY at {copy_rate:,.0f} rows/s; ratio {rate / copy_rate:.2f}  {verdict}")


def main() -> None:
    parser = database_arguments(__doc__.splitlines()[0], 1_000_000, repeat=15)
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args()
    if not args.reuse:
        print(f"filling {args.rows:,} runs: {fill(args.admin_url, args.database, args.rows):.1f} s")
    url = database_url(args.admin_url, args.database)
    engine = postgres_engine(url, "orchestration")
    from dashapp.startup import create_app

    app = create_app(load_settings({"DATABASE_URL": url}), engine)
    for present in (False, True):
        set_recommended_indexes(url, present)
        title = "with the README's recommended indexes" if present else "with only the user's three indexes"
        results = run_queries(engine, args.repeat)
        export = None if args.skip_export or present else run_export(engine, app)
        report(f"{args.rows:,} runs, {title}", results, export)


if __name__ == "__main__":
    main()
