"""The API page's queries on N recorded API calls (default 10,000,000 over 30 days), each beside
its floor (the same SQL straight through psycopg2). Target: p95 at most 150 ms.

    python -m bench.crm_api_usage_bench [--rows 10000000] [--reuse] [--repeat 7]
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from sqlalchemy import text

from bench.fill import database_arguments, database_url
from bench.history_bench import Recorder, p95, with_floor
from dashapp.storage import migrate
from dashapp.storage.db import postgres_engine
from queries.clock import utc_now
from queries.crm_api_usage import breaker_states, call_series, call_stats, rate_limits, remaining_series

_FILL = """
INSERT INTO sync_monitor.api_calls (called_at, crm_source, endpoint, method, status_code, duration_ms, retries,
                                    error, rate_limit_limit, rate_limit_remaining, rate_limit_reset_at)
SELECT at, crm, '/api/' || kind, 'GET', status, 20 + (h % 400) + CASE WHEN h % 50 = 0 THEN h % 5000 ELSE 0 END,
       CASE WHEN h % 20 = 0 THEN 1 ELSE 0 END,
       CASE WHEN status >= 400 THEN 'HTTP ' || status END,
       CASE WHEN h % 3 = 0 THEN 100 END, CASE WHEN h % 3 = 0 THEN (h / 7) % 101 END,
       CASE WHEN h % 3 = 0 THEN at + make_interval(secs => h % 60) END
FROM (SELECT g, h, (now() AT TIME ZONE 'UTC') - make_interval(secs => g * :span / :rows) AS at,
             (ARRAY['hubspot','callrail','genius','salesrabbit','arrivy','five9','marketsharp','leadconduit',
                    'salespro','gsheet'])[1 + g % 10] AS crm,
             (ARRAY['contacts','calls'])[1 + (g / 10) % 2] AS kind,
             CASE WHEN h % 100 < 2 THEN 429 WHEN h % 100 < 4 THEN 503 WHEN h % 100 < 5 THEN 404 ELSE 200 END AS status
      FROM (SELECT g, abs(hashtext(g::text)) AS h FROM generate_series(1, :rows) AS g) s) calls
"""


def fill(engine, rows: int) -> float:
    """Raw calls by SQL (generate_series), then the rollup rebuilt from them by migration 0002,
    as an installation upgrading with existing calls would."""
    started = time.perf_counter()
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS sync_monitor.api_call_minutes, sync_monitor.api_call_hours"))
        conn.execute(text("UPDATE sync_monitor.alembic_version SET version_num = '0001'"))
        conn.execute(text("TRUNCATE sync_monitor.api_calls, sync_monitor.circuit_breaker_events"))
        conn.execute(text(_FILL), {"rows": rows, "span": 30 * 86400.0})
        conn.execute(text("""
            INSERT INTO sync_monitor.circuit_breaker_events (occurred_at, breaker, crm_source, from_state, to_state,
                                                              failure_count, reason)
            SELECT (now() AT TIME ZONE 'UTC') - make_interval(mins => g * 40), 'breaker-' || (g % 10), 'hubspot',
                   CASE WHEN g % 2 = 0 THEN 'CLOSED' ELSE 'OPEN' END, CASE WHEN g % 2 = 0 THEN 'OPEN' ELSE 'CLOSED' END,
                   5, 'bench' FROM generate_series(1, 1000) g"""))
    migrate.upgrade(engine)  # 0002 builds the per-minute rollup from the raw calls
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE sync_monitor.api_calls"))
        conn.execute(text("VACUUM ANALYZE sync_monitor.api_call_minutes"))
        conn.execute(text("VACUUM ANALYZE sync_monitor.api_call_hours"))
    return time.perf_counter() - started


def main() -> None:
    parser = database_arguments(__doc__.splitlines()[0], 10_000_000, repeat=7)
    args = parser.parse_args()
    engine = postgres_engine(database_url(args.admin_url, args.database), "orchestration")
    if not args.reuse:
        print(f"filling {args.rows:,} API calls: {fill(engine, args.rows):.0f} s")
    now = utc_now()
    cases = [
        ("call stats with p50/p95/p99, 1 h (exact, raw calls)", lambda e: call_stats(e, now - timedelta(hours=1), now)),
        ("call stats with p50/p95/p99, 24 h", lambda e: call_stats(e, now - timedelta(hours=24), now)),
        ("latency and volume per hour, 24 h", lambda e: call_series(e, now - timedelta(hours=24), now, "hour")),
        ("rate limits (latest per endpoint) + 429s, 24 h", lambda e: rate_limits(e, now - timedelta(hours=24), now)),
        ("rate-limit history (lowest remaining), 24 h", lambda e: remaining_series(e, now - timedelta(hours=24), now)),
        ("breaker transitions, 24 h", lambda e: breaker_states(e, now - timedelta(hours=24), now)),
        ("call stats with p50/p95/p99, 7 d", lambda e: call_stats(e, now - timedelta(days=7), now)),
    ]
    recorder = Recorder(engine)
    raw = engine.raw_connection()
    print(f"\n{args.rows:,} API calls over 30 days")
    print(f"{'query':<50} {'median ms':>10} {'p95 ms':>8} {'floor ms':>9}  target (p95 <= 150 ms)")
    for name, case in cases:
        times, floor_times = with_floor(engine, recorder, raw, case, args.repeat)
        floor_ms = statistics.median(floor_times)
        verdict = "ok" if p95(times) <= 150 else "MISSED"
        print(f"{name:<50} {statistics.median(times):>10.1f} {p95(times):>8.1f} {floor_ms:>9.1f}  {verdict}")
    raw.close()


if __name__ == "__main__":
    main()
