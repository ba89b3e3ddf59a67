"""The history explorer at warehouse scale: an analyst's requests over a 30-day window, as the
history page's grid callback answers them (rows and, on the first block, the count).

    python -m bench.history_explorer_bench [--rows 5000000] [--days 90] [--reuse] [--samples 10]

Fills a PostgreSQL database (bench.fill, --rows runs over --days days) unless --reuse, puts the
README's recommended indexes, builds the run rollups as ``db upgrade`` does (or, with --reuse,
brings them up to date with one refresh cycle), then calls the grid's callback
(``dashapp.web.pages.history.load_rows``, in process: no HTTP, no JSON) for each case, every
sample a filter not asked before (the window moves with the clock; CRMs, sync types and search
texts rotate). Prints per case p50/p95 of the callback, the database floor (the SQL the callback
sent, replayed straight through psycopg2, p50) and, for first blocks, the callback without the
rollups (the raw table's capped count, p50). Target: p95 <= 100 ms. Tests never assert times.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from itertools import count

from bench.fill import database_arguments, prepared_warehouse
from bench.history_bench import Recorder, p95, replay
from dashapp.config import load_settings
from dashapp.storage import migrate, rollups
from queries import run_rollups
from queries.clock import utc_now
from queries.run_rollups import count as history_count

CRMS = ["hubspot", "callrail", "genius", "salesrabbit", "arrivy", "five9", "marketsharp", "leadconduit", "salespro",
        "gsheet"]
TYPES = ["contacts", "deals", "calls", "appointments", "leads"]
TEXTS = ["timeout", "429", "Unauthorized", "duplicate key", "503", "SOAP fault", "token expired", "rejected",
         "Read timed out", "Service Unavailable", "Too Many", "already exists"]
BLOCK = 100  # the grid's cacheBlockSize
DEEP = 5000


def request(start_row: int, sort: list[tuple[str, str]]) -> dict:
    return {"startRow": start_row, "endRow": start_row + BLOCK, "filterModel": {},
            "sortModel": [{"colId": c, "sort": d} for c, d in sort]}


def cases() -> list[tuple[str, Callable[[int], tuple]]]:
    """(name, sample number -> the callback's arguments after the request) per kind of filter."""
    def args(crms=None, statuses=None, types=None, q=None, at=None):
        return ("30d", None, None, crms, statuses, types, q, "UTC", None, None, f"?at={at}" if at else None)

    def moment(i: int) -> str:  # as of any moment within 90 days, each sample a new one
        return (utc_now() - timedelta(days=1 + 88 * (i % 17) / 17, minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")

    return [
        ("30 d, newest first", lambda i: ([], args())),
        ("+ status failed", lambda i: ([], args(statuses=["failed"]))),
        ("+ one CRM", lambda i: ([], args(crms=[CRMS[i % 10]]))),
        ("+ two CRMs", lambda i: ([], args(crms=[CRMS[i % 10], CRMS[(i + 3) % 10]]))),
        ("+ two CRMs, failed", lambda i: ([], args(crms=[CRMS[i % 10], CRMS[(i + 3) % 10]], statuses=["failed"]))),
        ("+ sync type", lambda i: ([], args(types=[TYPES[i % 5]]))),
        ("+ error text", lambda i: ([], args(q=TEXTS[i % len(TEXTS)]))),
        ("sort duration desc", lambda i: ([("duration_seconds", "desc")], args())),
        ("sort records desc", lambda i: ([("records_processed", "desc")], args())),
        ("sort CRM asc", lambda i: ([("crm_source", "asc")], args())),
        ("as of any T, 30 d", lambda i: ([], args(at=moment(i)))),
        ("as of any T, + status failed", lambda i: ([], args(statuses=["failed"], at=moment(i)))),
        ("as of any T, + one CRM", lambda i: ([], args(crms=[CRMS[i % 10]], at=moment(i)))),
    ]


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def run(engine, samples: int) -> list[tuple[str, list[float], list[float], list[float] | None]]:
    from dashapp.web.pages.history import load_rows

    recorder = Recorder(engine)
    raw = engine.raw_connection()
    sample = count(1)
    lines = []
    for name, make in cases():
        for start_row in (0, DEEP):
            def call(i: int, make=make, start_row=start_row, name=name) -> tuple:
                sort, arguments = make(i)
                answer = load_rows(request(start_row, sort), *arguments)
                if answer[2]:  # the grid's message: the filter could not be applied or the database failed
                    raise SystemExit(f"{name}: {answer[2]}")
                return answer

            call(next(sample))  # plans and buffers warm; the samples below are each a new filter
            app, floor = [], []
            for _ in range(samples):
                i = next(sample)
                recorder.statements, recorder.active = [], True
                app.append(timed(lambda i=i: call(i)))
                recorder.active = False
                floor.append(timed(lambda captured=list(recorder.statements): replay(raw, captured)))
            before = None
            if start_row == 0:
                ready = history_count.ready
                history_count.ready = lambda db: None  # type: ignore[assignment]
                before = []
                for _ in range(max(3, samples // 2)):
                    i = next(sample)
                    before.append(timed(lambda i=i: call(i)))
                history_count.ready = ready  # type: ignore[assignment]
            label = f"{name}, {'page 1 + count' if start_row == 0 else f'offset {DEEP:,}'}"
            lines.append((label, app, floor, before))
            print(f"{label:<42} {statistics.median(app):>7.1f} {p95(app):>7.1f} {statistics.median(floor):>7.1f}",
                  flush=True)
    raw.close()
    return lines


def main() -> None:
    parser = database_arguments(__doc__.splitlines()[0], 5_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--reuse", action="store_true", help="keep an already filled database")
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    url, engine = prepared_warehouse(args)
    migrate.upgrade(engine)
    started = time.perf_counter()
    if args.reuse and run_rollups.ready(engine) is not None:
        outcome = rollups.refresh(engine, utc_now())
        print(f"rollups brought up to date in {time.perf_counter() - started:.1f} s ({outcome})", flush=True)
    else:
        rows = rollups.build(engine, utc_now(), progress=lambda line: None)
        print(f"rollups built in {time.perf_counter() - started:.1f} s ({rows:,} rows)", flush=True)
    from dashapp.startup import create_app

    create_app(load_settings({"DATABASE_URL": url, "CACHE_SECONDS": "0"}), engine)
    with engine.connect() as conn:
        total = conn.exec_driver_sql("SELECT COUNT(*) FROM orchestration.sync_history").scalar_one()
    print(f"\n{total:,} runs; grid callback, 30-day window ({args.samples} samples, ms)")
    print(f"{'request':<42} {'p50':>7} {'p95':>7} {'floor':>7}")
    lines = run(engine, args.samples)
    print(f"\n{'request (' + str(args.samples) + ' samples, ms)':<42} {'p50':>7} {'p95':>7} {'floor':>7} "
          f"{'no rollups p50':>15}  target p95 <= 100")
    for label, app, floor, before in lines:
        verdict = "ok" if p95(app) <= 100 else "MISSED"
        print(f"{label:<42} {statistics.median(app):>7.1f} {p95(app):>7.1f} {statistics.median(floor):>7.1f} "
              f"{'' if before is None else f'{statistics.median(before):.1f}':>15}  {verdict}")


if __name__ == "__main__":
    main()
