"""Load test: many viewers on gunicorn over loopback, against 1M runs in a PostgreSQL of its own.

    python -m bench.load_bench [--rows 1000000] [--viewers 10,50,100] [--analysts 5] [--seconds 45]

It starts a PostgreSQL server in a temporary folder (with pg_stat_statements, so every statement
the app sends is counted), fills it with ``--rows`` runs (bench.fill), starts a Redis of its own
and ``gunicorn -c gunicorn.conf.py app:server`` (2 workers x 8 threads) with REFRESH_SECONDS=10.

Each simulated viewer does what the browser does on the overview: GET the page, its layout and
dependencies, the page-content callback, then the overview, health-strip and alert-bell
callbacks, and repeats the three every 10 s (starts spread over the first 10 s). Each analyst
opens /history and pages the grid (100 rows a block, one every 2 s), changing its filter and
sort every 10 blocks. Requests are plain HTTP POSTs to /_dash-update-component with the bodies
Dash's renderer sends, built from the app's own /_dash-dependencies.

One phase per viewer count, viewers only: database statements per 10-second refresh window, from
pg_stat_statements. Then the full mix (the largest count plus the analysts): p50/p95/p99 per
request kind and the errors.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from bench.fill import database_url, fill, set_recommended_indexes
from dashapp.storage import migrate
from dashapp.storage.db import postgres_engine, psycopg2_url
from tests.support.services import PostgresServer, RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
REFRESH_SECONDS = 10
CRMS = ["hubspot", "callrail", "genius", "salesrabbit", "arrivy", "five9"]


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def timed(self, kind: str, call) -> requests.Response | None:
        started = time.perf_counter()
        try:
            answer = call()
        except requests.RequestException as exc:
            with self.lock:
                self.errors[kind].append(type(exc).__name__)
            return None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.times[kind].append(elapsed)
            if answer.status_code >= 400:
                self.errors[kind].append(str(answer.status_code))
        return answer


class Dash:
    """Callback bodies as the renderer builds them, from /_dash-dependencies."""

    def __init__(self, dependencies: list[dict]) -> None:
        self.dependencies = dependencies

    def body(self, output_part: str, values: dict[str, object], changed: str | None = None) -> dict:
        dep = next(d for d in self.dependencies if output_part in d["output"] and not d.get("clientside_function"))
        key = dep["output"]
        parts = [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in key.strip(".").split("...")]
        outputs = parts if key.startswith("..") else parts[0]

        def filled(items: list[dict]) -> list[dict]:
            return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                    for i in items]

        inputs = filled(dep["inputs"])
        return {"output": key, "outputs": outputs, "inputs": inputs, "state": filled(dep.get("state", [])),
                "changedPropIds": [changed or f"{inputs[0]['id']}.{inputs[0]['property']}"]}


def open_page(session: requests.Session, base: str, path: str, rec: Recorder) -> Dash | None:
    rec.timed("GET page", lambda: session.get(base + path, timeout=30))
    rec.timed("GET _dash-layout", lambda: session.get(base + "/_dash-layout", timeout=30))
    answer = rec.timed("GET _dash-dependencies", lambda: session.get(base + "/_dash-dependencies", timeout=30))
    if answer is None or answer.status_code != 200:
        return None
    dash = Dash(answer.json())
    body = dash.body("_pages_content.children", {"_pages_location.pathname": path, "_pages_location.search": ""})
    rec.timed("page content callback", lambda: session.post(base + "/_dash-update-component", json=body, timeout=30))
    return dash


def viewer(base: str, rec: Recorder, stop: threading.Event, delay: float) -> None:
    if stop.wait(delay):
        return
    session = requests.Session()
    dash = open_page(session, base, "/", rec)
    tick, state = 0, None
    while dash is not None and not stop.is_set():
        overview = dash.body("overview-cards.children", {"overview-refresh-interval.n_intervals": tick,
                                                         "overview-refresh-state.data": state})
        answer = rec.timed("overview refresh", lambda b=overview: session.post(
            base + "/_dash-update-component", json=b, timeout=30))
        if answer is not None and answer.status_code == 200:
            state = answer.json()["response"]["overview-refresh-state"]["data"]
        strip = dash.body("health-strip.children", {"health-strip-interval.n_intervals": tick})
        rec.timed("health strip", lambda b=strip: session.post(base + "/_dash-update-component", json=b, timeout=30))
        bell = dash.body("alerts-bell-count.children", {"alerts-bell-interval.n_intervals": tick})
        rec.timed("alert bell", lambda b=bell: session.post(base + "/_dash-update-component", json=b, timeout=30))
        tick += 1
        stop.wait(REFRESH_SECONDS)


def analyst(base: str, rec: Recorder, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    dash = open_page(session, base, "/history", rec)
    while dash is not None and not stop.is_set():
        quick = {"history-range.value": rng.choice(["24h", "7d", "30d"]),
                 "history-crm-source.value": rng.choice([[], [rng.choice(CRMS)]]),
                 "history-status.value": rng.choice([[], ["failed"], ["success", "partial"]]),
                 "history-sync-type.value": [], "history-error-search.value": "",
                 "viewer-timezone.data": "UTC"}
        sort = rng.choice([[], [{"colId": "duration_seconds", "sort": "desc"}],
                           [{"colId": "records_processed", "sort": "asc"}]])
        for block in range(10):
            if stop.is_set():
                return
            request = {"startRow": block * 100, "endRow": block * 100 + 100, "sortModel": sort, "filterModel": {}}
            body = dash.body("history-grid.getRowsResponse", {**quick, "history-grid.getRowsRequest": request})
            kind = "history first block" if block == 0 else "history next block"
            rec.timed(kind, lambda b=body: session.post(base + "/_dash-update-component", json=b, timeout=30))
            stop.wait(2)


def statements(url: str) -> int:
    engine = create_engine(psycopg2_url(url))
    with engine.connect() as conn:
        count = conn.execute(text("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s"
                                  " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database()"
                                  " AND query NOT ILIKE '%pg_stat_statements%'")).scalar()
    engine.dispose()
    return int(count)


def top_statements(url: str, limit: int = 12) -> list[tuple[int, str]]:
    engine = create_engine(psycopg2_url(url))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT calls, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements s"
                                 " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database()"
                                 " AND query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC LIMIT :n"),
                            {"n": limit}).all()
    engine.dispose()
    return [(int(calls), query) for calls, query in rows]


def reset_statements(url: str) -> None:
    engine = create_engine(psycopg2_url(url))
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_stat_statements_reset()"))
    engine.dispose()


def run_phase(base: str, viewers: int, analysts: int, seconds: float) -> Recorder:
    rec, stop = Recorder(), threading.Event()
    threads = [threading.Thread(target=viewer, args=(base, rec, stop, REFRESH_SECONDS * n / viewers), daemon=True)
               for n in range(viewers)]
    threads += [threading.Thread(target=analyst, args=(base, rec, stop, n), daemon=True) for n in range(analysts)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=40)
    return rec


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"],
                               cwd=ROOT, env={**os.environ, **env, "PORT": str(port), "LOG_LEVEL": "warning"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"gunicorn did not start: {process.stderr.read()[-2000:]}")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--viewers", default="10,50,100", help="viewer counts, one phase each")
    parser.add_argument("--analysts", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each phase")
    parser.add_argument("--top", action="store_true", help="print the most frequent statements of each phase")
    args = parser.parse_args()
    counts = [int(n) for n in args.viewers.split(",")]

    pg = PostgresServer({"shared_preload_libraries": "pg_stat_statements", "shared_buffers": "512MB",
                         "max_connections": "200"})
    redis_server = RedisServer()
    gunicorn = None
    try:
        pg.start()
        redis_server.start()
        seconds = fill(pg.url, "loadbench", args.rows)
        url = database_url(pg.url, "loadbench")
        set_recommended_indexes(url, present=True)
        engine = postgres_engine(url, "orchestration")
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        engine.dispose()
        print(f"filled {args.rows:,} runs in {seconds:.0f} s; PostgreSQL {pg.port}, Redis {redis_server.port}")

        port = free_port()
        gunicorn = start_gunicorn({"DATABASE_URL": url, "REDIS_URL": redis_server.url,
                                   "REFRESH_SECONDS": str(REFRESH_SECONDS)}, port)
        base = f"http://127.0.0.1:{port}"
        run_phase(base, 5, 1, 12)  # warm both workers, their pools and PostgreSQL's cache

        print(f"\nviewers only, {args.seconds:.0f} s each: database statements per {REFRESH_SECONDS} s window")
        print(f"{'viewers':>8} {'requests':>9} {'req/s':>7} {'statements':>11} {'per window':>11} {'errors':>7}")
        for count in counts:
            reset_statements(url)
            rec = run_phase(base, count, 0, args.seconds)
            done = statements(url)
            total = sum(len(v) for v in rec.times.values())
            errors = sum(len(v) for v in rec.errors.values())
            print(f"{count:>8} {total:>9} {total / args.seconds:>7.1f} {done:>11} "
                  f"{done / (args.seconds / REFRESH_SECONDS):>11.1f} {errors:>7}")
            if args.top:
                for calls, query in top_statements(url):
                    print(f"{'':>8} {calls:>6}  {query[:150]}")

        print(f"\nfull mix: {counts[-1]} viewers + {args.analysts} analysts paging the history, {args.seconds:.0f} s")
        reset_statements(url)
        rec = run_phase(base, counts[-1], args.analysts, args.seconds)
        print(f"{'request kind':<24} {'count':>6} " + " ".join(f"{h:>7}" for h in ("p50 ms", "p95 ms", "p99 ms",
                                                                               "max ms", "errors")))
        for kind in sorted(rec.times):
            values = rec.times[kind]
            print(f"{kind:<24} {len(values):>6} {statistics.median(values) * 1000:>7.0f} "
                  f"{percentile(values, 0.95) * 1000:>7.0f} {percentile(values, 0.99) * 1000:>7.0f} "
                  f"{max(values) * 1000:>7.0f} {len(rec.errors.get(kind, [])):>7}")
        everything = [v for values in rec.times.values() for v in values]
        errors = {kind: sorted(set(v)) for kind, v in rec.errors.items() if v}
        print(f"{'all':<24} {len(everything):>6} {statistics.median(everything) * 1000:>7.0f} "
              f"{percentile(everything, 0.95) * 1000:>7.0f} {percentile(everything, 0.99) * 1000:>7.0f} "
              f"{max(everything) * 1000:>7.0f} {sum(len(v) for v in rec.errors.values()):>7}")
        print(f"database statements in the mix: {statements(url)} "
              f"({statements(url) / (args.seconds / REFRESH_SECONDS):.0f} per {REFRESH_SECONDS} s window)")
        if errors:
            print(f"errors: {errors}")
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
        redis_server.close()
        pg.close()


if __name__ == "__main__":
    main()
