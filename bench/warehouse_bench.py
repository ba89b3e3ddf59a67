"""Every JSON route and data callback at warehouse scale, read from the run rollups.

    python -m bench.warehouse_bench [--rows 1000000] [--days 90] [--api-calls 20000000] [--reuse]
                                    [--samples 15] [--port 18600] [--pairs 5000]

Fills a PostgreSQL database (bench.fill, --rows runs over --days days, the README's index) unless
--reuse, and the app's tables with --api-calls CRM API calls over 30 days and their rollups
(bench.crm_api_usage_bench.fill) unless they hold that many already; builds the run rollups as
``db upgrade`` does, but up to a day ago, then adds a day of 86,400 new runs and times the
catch-up (one refresh cycle). Starts gunicorn (gunicorn.conf.py, one worker,
CACHE_SECONDS=0 so every request computes) and times over HTTP, per JSON route and per page
callback that reads data:
- cold: every sample a window or filter not asked before (any window up to 90 days, any CRM or
  sync type), the first after start included;
- warm: the same request again;
beside the database floor (the SQL the payload sends, replayed straight through psycopg2, median),
and the raw-table answer without rollups for comparison. Also an alert evaluation, the web
process's memory (RSS) after start, after the requests and after the catch-up. Tests never assert
times.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psutil
import requests
from sqlalchemy import text

from bench import crm_api_usage_bench as api_calls
from bench.fill import _FILL, database_arguments, prepared_warehouse
from bench.history_bench import Recorder, p95, with_floor
from bench.load_bench import Dash
from dashapp.alerts import evaluation as alerts
from dashapp.config import load_settings
from dashapp.payloads import crm_api_usage as usage
from dashapp.payloads import day_cache as day_cache_payloads
from dashapp.payloads import errors as errors_payloads
from dashapp.payloads import performance as performance_payloads
from dashapp.payloads.params import Window
from dashapp.storage import migrate, rollups
from queries import failed_operations, metrics, run_rollups
from queries.clock import utc_now

ROOT = Path(__file__).resolve().parent.parent
CRMS = ["hubspot", "callrail", "genius", "salesrabbit", "arrivy", "five9", "marketsharp", "leadconduit", "salespro",
        "gsheet"]
TYPES = ["contacts", "deals", "calls", "appointments", "leads"]
DAY_RUNS = 86_400


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"],
                               cwd=ROOT, env={**os.environ, **env, "PORT": str(port), "LOG_LEVEL": "warning",
                                              "WEB_CONCURRENCY": "1"},
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


def web_rss_mb(process: subprocess.Popen) -> float:
    """The worker's resident memory (gunicorn's master excluded)."""
    workers = psutil.Process(process.pid).children()
    return sum(w.memory_info().rss for w in workers) / 1e6


def timed_get(session: requests.Session, url: str) -> float:
    started = time.perf_counter()
    answer = session.get(url, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"{url}: {answer.status_code} {answer.text[:300]}")
    return elapsed


def timed_post(session: requests.Session, url: str, body: dict) -> float:
    started = time.perf_counter()
    answer = session.post(url, json=body, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code not in (200, 204):
        raise SystemExit(f"callback {body['output'][:60]}: {answer.status_code} {answer.text[:300]}")
    return elapsed


def as_of(samples: int) -> list[str]:
    """``at=`` moments within the past 90 days, one per sample, each new (the issue's "any at")."""
    now = utc_now()
    return [f"at={(now - timedelta(days=89 * (i + 1) / (samples + 1), minutes=i)):%Y-%m-%dT%H:%M:%SZ}"
            for i in range(samples)]


def routes(samples: int) -> list[tuple[str, list[str], str]]:
    """(name, cold URLs (each new), warm URL) per JSON route; the routes the overview reads also as of
    ``at`` moments within 90 days (each new), beside their live figures."""
    days = [90 - i for i in range(samples)]
    moments = as_of(samples)
    recent = [(utc_now() - timedelta(days=1 + 28 * i / max(1, samples), minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
              for i in range(samples)]  # the CRM API calls span 30 days
    hours = [1, 24, 168, 720, *(719 - 37 * i for i in range(max(0, samples - 4)))][:samples]  # API calls: 30 days
    return [
        ("/api/performance-charts any window <= 90 d", [f"/api/performance-charts?days={d}" for d in days],
         "/api/performance-charts?days=90"),
        ("/api/performance-charts 30 d, one CRM",
         [f"/api/performance-charts?days={30 - i // 10}&crm_source={CRMS[i % 10]}" for i in range(samples)],
         "/api/performance-charts?days=30&crm_source=hubspot"),
        ("/api/performance-charts 30 d, one sync type", [f"/api/performance-charts?days={30 - i // 5}&sync_type="
                                                         f"{TYPES[i % 5]}" for i in range(samples)],
         "/api/performance-charts?days=30&sync_type=deals"),
        ("/api/errors any window <= 90 d", [f"/api/errors?days={d}" for d in days], "/api/errors?days=30"),
        ("/api/failed-operations age=30d, a CRM", [f"/api/failed-operations?age=30d&crm_source={CRMS[i % 10]}"
                                                   + ("&state=failed" if i >= 10 else "") for i in range(samples)],
         "/api/failed-operations?age=30d"),
        ("/metrics", ["/metrics"] * samples, "/metrics"),
        ("/api/stats", ["/api/stats"] * samples, "/api/stats"),
        ("/api/crm-status", ["/api/crm-status"] * samples, "/api/crm-status"),
        ("/api/recent-syncs", ["/api/recent-syncs"] * samples, "/api/recent-syncs"),
        *((f"{route} as of any at <= 90 d", [f"{route}?{m}" for m in moments], f"{route}?{moments[-1]}")
          for route in ("/api/stats", "/api/crm-status", "/api/recent-syncs", "/api/alerts")),
        ("/api/performance-charts 7 d as of any at", [f"/api/performance-charts?range=7d&{m}" for m in moments],
         f"/api/performance-charts?range=7d&{moments[-1]}"),
        ("/api/errors 7 d as of any at", [f"/api/errors?range=7d&{m}" for m in moments],
         f"/api/errors?range=7d&{moments[-1]}"),
        ("/api/timeline 24 h", ["/api/timeline?range=24h"] * samples, "/api/timeline?range=24h"),
        ("/api/timeline a day within 90 d", [f"/api/timeline?start={m[3:13]}T00:00:00Z&end={m[3:13]}T23:59:59Z"
                                             for m in moments],
         f"/api/timeline?start={moments[-1][3:13]}T00:00:00Z&end={moments[-1][3:13]}T23:59:59Z"),
        ("/api/timeline 7 d", ["/api/timeline?range=7d"] * samples, "/api/timeline?range=7d"),
        *((f"/api/timeline/lanes {window}", [f"/api/timeline/lanes?range={window}"] * samples,
           f"/api/timeline/lanes?range={window}") for window in ("24h", "7d", "30d")),
        ("/api/failed-operations 30 d as of any at", [f"/api/failed-operations?range=30d&{m}" for m in moments],
         f"/api/failed-operations?range=30d&{moments[-1]}"),
        *((f"/api/{route} any window <= 30 d", [f"/api/{route}?hours={h}" for h in hours], f"/api/{route}?hours=24")
          for route in ("api-stats", "rate-limits", "circuit-breakers")),
        *((f"/api/{route} 24 h as of any at <= 30 d", [f"/api/{route}?range=24h&at={at}" for at in recent],
           f"/api/{route}?range=24h&at={recent[-1]}") for route in ("api-stats", "rate-limits", "circuit-breakers")),
    ]


def callbacks(dash: Dash, samples: int) -> list[tuple[str, list[dict], dict]]:
    """(name, cold bodies, warm body) per page callback that aggregates days."""
    def performance(window: str, crm: str | None) -> dict:
        return dash.body("duration-chart.figure", {
            "performance-range.value": window, "performance-crm-source.value": [crm] if crm else None,
            "performance-sync-type.value": None, "performance-refresh-interval.n_intervals": 0,
        }, "performance-range.value")

    def errors(window: str) -> dict:
        return dash.body("error-classes-chart.figure", {"errors-range.value": window}, "errors-range.value")

    def crm_api_usage(window: str) -> dict:
        return dash.body("rate-limit-tiles.children", {"api-usage-range.value": window}, "api-usage-range.value")

    windows = ("24h", "7d", "30d", "90d")
    return [
        ("performance page refresh (window x CRM)",
         [performance(windows[i % 4], CRMS[i // 4 % 10] if i >= 4 else None) for i in range(samples)],
         performance("90d", None)),
        ("errors page refresh (24 h/7/30/90 d)", [errors(windows[i % 4]) for i in range(samples)], errors("30d")),
        ("API usage page refresh (24 h/7 d/30 d)", [crm_api_usage(windows[i % 3]) for i in range(samples)],
         crm_api_usage("24h")),
    ]


def stats(values: list[float]) -> str:
    return f"{statistics.median(values):>8.1f} {p95(values):>8.1f}"


def main() -> None:
    parser = database_arguments(__doc__.splitlines()[0], 1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--port", type=int, default=18600)
    parser.add_argument("--api-calls", type=int, default=20_000_000, help="CRM API calls over 30 days")
    parser.add_argument("--pairs", type=int, default=5000,
                        help="the 5,000-sync case (bench.sync_states_bench) after the rest; 0 skips it")
    args = parser.parse_args()
    url, engine = prepared_warehouse(args)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM orchestration.sync_history WHERE endpoint = '/bench/day'"))
        exists = conn.execute(text("SELECT to_regclass('sync_monitor.api_calls') IS NOT NULL")).scalar()
        # a separate statement: PostgreSQL plans a CASE's subquery, and a missing table fails the plan
        calls = conn.execute(text("SELECT COUNT(*) FROM sync_monitor.api_calls")).scalar() if exists else 0
    if calls != args.api_calls:  # the app's tables afresh, with the CRM API calls (and their rollups)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS sync_monitor CASCADE"))
        print(f"filled {args.api_calls:,} CRM API calls over 30 days in {api_calls.fill(engine, args.api_calls):.0f} s",
              flush=True)
    migrate.upgrade(engine)
    now = utc_now()
    started = time.perf_counter()
    rows = rollups.build(engine, now - timedelta(days=1), progress=lambda line: None)
    build_seconds = time.perf_counter() - started
    with engine.begin() as conn:  # a day of new runs, one a second
        conn.execute(text(_FILL.replace("'/api/' || kind", "'/bench/day'")), {"rows": DAY_RUNS, "span": 86400.0})
        total = conn.execute(text("SELECT COUNT(*) FROM orchestration.sync_history")).scalar()
    started = time.perf_counter()
    catch_up = rollups.refresh(engine, utc_now())
    catch_up_seconds = time.perf_counter() - started
    print(f"runs: {total:,}; rollup build (db upgrade) {build_seconds:.1f} s for {rows:,} rollup rows; "
          f"catch-up after {DAY_RUNS:,} new runs in a day: {catch_up_seconds:.2f} s ({catch_up['hours']} hours)",
          flush=True)

    settings = load_settings({"DATABASE_URL": url})
    evaluations = []
    for _ in range(5):
        began = time.perf_counter()
        alerts.evaluate(engine, settings, deliver=False)
        evaluations.append((time.perf_counter() - began) * 1000)

    floors = floor_table(engine, args.samples)
    process = start_gunicorn({"DATABASE_URL": url, "CACHE_SECONDS": "0", "ROLLUP_REFRESH_SECONDS": "60"}, args.port)
    try:
        base = f"http://127.0.0.1:{args.port}"
        rss_start = web_rss_mb(process)
        session = requests.Session()
        lines = []
        for name, cold_urls, warm_url in routes(args.samples):
            cold = [timed_get(session, base + u) for u in cold_urls]
            warm = [timed_get(session, base + warm_url) for _ in range(args.samples)]
            lines.append((name, cold, warm, floors.get(name)))
        dash = Dash(session.get(base + "/_dash-dependencies", timeout=30).json())
        for name, bodies, warm_body in callbacks(dash, args.samples):
            cold = [timed_post(session, base + "/_dash-update-component", b) for b in bodies]
            warm = [timed_post(session, base + "/_dash-update-component", warm_body) for _ in range(args.samples)]
            lines.append((name, cold, warm, floors.get(name)))
        rss_after = web_rss_mb(process)
    finally:
        process.terminate()
        process.wait(timeout=30)

    print(f"\n{'request (' + str(args.samples) + ' samples)':<46} {'cold p50':>8} {'p95':>8} {'warm p50':>8} "
          f"{'p95':>8} {'floor':>7} {'raw':>8}")
    for name, cold, warm, floor in lines:
        floor_ms, raw_ms = floor or (None, None)
        print(f"{name:<46} {stats(cold)} {stats(warm)} "
              f"{'' if floor_ms is None else f'{floor_ms:.1f}':>7} {'' if raw_ms is None else f'{raw_ms:.0f}':>8}")
    print(f"{'alert evaluation (in process)':<46} {stats(evaluations)}")
    print(f"\nweb worker RSS: {rss_start:.0f} MB after start, {rss_after:.0f} MB after the requests")
    if args.pairs:
        from bench import sync_states_bench  # it borrows this module's gunicorn starter

        print(f"\n{args.pairs:,} syncs (bench.sync_states_bench):")
        sync_states_bench.report(sync_states_bench.run(args.pairs, 20, args.samples, args.port + 40))


def floor_table(engine, samples: int) -> dict[str, tuple[float, float | None]]:
    """Per route: the database floor of what it reads now (median ms of the captured SQL replayed
    through psycopg2) and the raw-table answer without rollups (one cold computation, ms)."""
    recorder = Recorder(engine)
    raw = engine.raw_connection()
    now = utc_now()
    month = failed_operations.OperationFilter(since=now - timedelta(days=30))
    cases = {
        "/api/performance-charts any window <= 90 d":
            lambda e: performance_payloads.performance_frames(e, now - timedelta(days=90), now),
        "/api/performance-charts 30 d, one CRM":
            lambda e: performance_payloads.performance_frames(e, now - timedelta(days=30), now, ("hubspot",)),
        "/api/performance-charts 30 d, one sync type":
            lambda e: performance_payloads.performance_frames(e, now - timedelta(days=30), now, (), ("deals",)),
        "/api/errors any window <= 90 d": lambda e: errors_payloads.errors_frames(e, now - timedelta(days=90), now),
        "/api/failed-operations age=30d, a CRM": lambda e: failed_operations.count_by_state(e, month),
        "/metrics": lambda e: metrics.day_counts(e, now - timedelta(hours=24)),
    }
    cases["/api/api-stats any window <= 30 d"] = lambda e: usage.api_stats(e, Window("30d", None), now)
    cases["/api/rate-limits any window <= 30 d"] = lambda e: usage.rate_limit_list(e, Window("30d", None), now)
    cases["/api/circuit-breakers any window <= 30 d"] = lambda e: usage.breaker_list(e, Window("30d", None), now)
    cases["performance page refresh (window x CRM)"] = cases["/api/performance-charts any window <= 90 d"]
    cases["errors page refresh (7/14/30/90 d)"] = cases["/api/errors any window <= 90 d"]
    found = {}
    wide = run_rollups.fetch.wide_rows

    def captured(b, statement, keys):
        frame = b.frame(statement)
        return (list(frame.iloc[:, :keys].itertuples(index=False, name=None)),
                frame.iloc[:, keys:].to_numpy(dtype=float), list(frame.columns))

    for name, case in cases.items():
        # the rollups' wide reads go straight to psycopg2: send them through SQLAlchemy while the
        # statements are captured, so the floor replays them too
        run_rollups.fetch.wide_rows = captured  # type: ignore[assignment]
        _, floor_times = with_floor(engine, recorder, raw, case, min(samples, 5))
        run_rollups.fetch.wide_rows = wide  # type: ignore[assignment]
        ready = run_rollups.ready
        run_rollups.ready = lambda db: None  # type: ignore[assignment]
        day_cache_payloads.DAYS.clear()
        began = time.perf_counter()
        case(engine)
        raw_ms = (time.perf_counter() - began) * 1000
        run_rollups.ready = ready  # type: ignore[assignment]
        found[name] = (statistics.median(floor_times), raw_ms)
    raw.close()
    return found


if __name__ == "__main__":
    main()
