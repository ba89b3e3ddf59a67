"""Fill a PostgreSQL database with the user's two tables and N runs, fast (one INSERT ... SELECT
over generate_series), in realistic proportions: ten CRMs, five sync types, ~92% success, 5%
failed with CRM-like error messages, 2.5% partial, a handful running; spread over 30 days.

    python -m bench.fill --rows 1000000 [--database sync_monitor_bench] [--admin-url URL]
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import Engine, create_engine, text

from dashapp.storage.db import postgres_engine, psycopg2_url
from dashapp.storage.sync_tables import metadata

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"

_FILL = """
INSERT INTO orchestration.sync_history
    (crm_source, sync_type, endpoint, start_time, end_time, status, records_processed, records_created,
     records_updated, records_failed, error_message, configuration, performance_metrics, created_at)
SELECT crm, kind, '/api/' || kind, start_ts,
       CASE WHEN status = 'running' THEN NULL ELSE start_ts + make_interval(secs => 5 + h % 600) END,
       status,
       CASE WHEN g % 97 = 0 THEN NULL ELSE h % 5000 END, h % 700, h % 4000,
       CASE WHEN status = 'partial' THEN 1 + h % 40 ELSE 0 END,
       CASE status
         WHEN 'failed' THEN (ARRAY[
           'HTTPError: 429 Client Error: Too Many Requests for url: https://api.hubapi.com/crm/v3/objects/contacts?after=' || h,
           'ReadTimeout: HTTPSConnectionPool(host=''api.callrail.com'', port=443): Read timed out. (read timeout=30)',
           'AuthenticationError: 401 Unauthorized: access token expired at 2026-11-0' || (1 + h % 9) || 'T04:00:00Z',
           'WarehouseError: duplicate key value violates unique constraint "genius_pkey" DETAIL: Key (id)=(' || h || ') already exists.',
           'HTTPError: 503 Server Error: Service Unavailable for url: https://app.leadconduit.com/events',
           'HTTPError: SOAP fault: Report is not ready yet (reportId ' || md5(g::text)::uuid || ')'
         ])[1 + h % 6]
         WHEN 'partial' THEN (1 + h % 40) || ' records rejected: missing required field ''email'''
       END,
       '{"batch_size": 100}'::jsonb, jsonb_build_object('duration_seconds', 5 + h % 600), start_ts
FROM (
    SELECT g, h,
           (ARRAY['hubspot','callrail','genius','salesrabbit','arrivy','five9','marketsharp','leadconduit',
                  'salespro','gsheet'])[1 + g % 10] AS crm,
           (ARRAY['contacts','deals','calls','appointments','leads'])[1 + (g / 10) % 5] AS kind,
           CASE WHEN g <= 5 THEN 'running'
                WHEN h % 1000 < 50 THEN 'failed'
                WHEN h % 1000 < 75 THEN 'partial'
                ELSE 'success' END AS status,
           (now() AT TIME ZONE 'UTC') - make_interval(secs => g * :span / :rows) AS start_ts
    FROM (SELECT g, abs(hashtext(g::text)) AS h FROM generate_series(1, :rows) AS g) seeds
) runs
"""

# The README's recommendation. (status, start_time) and (crm_source, start_time) were measured
# too and changed no page query by more than a few milliseconds, so they are not recommended.
RECOMMENDED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS sync_history_end_time_idx ON orchestration.sync_history (end_time)",
    # the history sorted by duration, records or CRM over a long window (bench.history_explorer_bench)
    "CREATE INDEX IF NOT EXISTS sync_history_duration_idx ON orchestration.sync_history "
    "((end_time - start_time) DESC NULLS LAST, id DESC) INCLUDE (start_time, end_time)",
    "CREATE INDEX IF NOT EXISTS sync_history_records_idx ON orchestration.sync_history "
    "(records_processed DESC NULLS LAST, id DESC) INCLUDE (start_time)",
    "CREATE INDEX IF NOT EXISTS sync_history_crm_id_idx ON orchestration.sync_history "
    "(crm_source, id DESC) INCLUDE (start_time)",
)
OTHER_INDEXES = ("sync_history_status_start_idx", "sync_history_crm_start_idx")


def database_url(admin_url: str, database: str) -> str:
    return psycopg2_url(admin_url).set(database=database).render_as_string(hide_password=False)


def fill(admin_url: str, database: str, rows: int, days: int = 30) -> float:
    """(Re)create ``database`` with the user's tables and ``rows`` runs; returns seconds taken."""
    admin = create_engine(psycopg2_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    engine = create_engine(database_url(admin_url, database))
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA orchestration"))
        metadata.create_all(conn)
        conn.execute(text(_FILL), {"rows": rows, "span": days * 86400.0})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE orchestration.sync_history"))
    engine.dispose()
    return time.perf_counter() - started


def set_recommended_indexes(url: str, present: bool) -> None:
    engine = create_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in RECOMMENDED_INDEXES:
            if present:
                conn.execute(text(statement))
            else:
                conn.execute(text("DROP INDEX IF EXISTS orchestration." + statement.split()[5]))
        for name in OTHER_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS orchestration.{name}"))
        conn.execute(text("ANALYZE orchestration.sync_history"))
    engine.dispose()


def database_arguments(description: str, rows: int, repeat: int | None = None) -> argparse.ArgumentParser:
    """The options every benchmark on a filled database takes: --rows, --database, --admin-url and,
    with ``repeat``, --reuse (keep an already filled database) and --repeat."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=rows)
    parser.add_argument("--database", default="sync_monitor_bench")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    if repeat is not None:
        parser.add_argument("--reuse", action="store_true", help="keep an already filled database")
        parser.add_argument("--repeat", type=int, default=repeat)
    return parser


def prepared_warehouse(args: argparse.Namespace) -> tuple[str, Engine]:
    """The benchmarks' warehouse: filled (``args.rows`` runs over ``args.days`` days) unless
    ``args.reuse``, with the README's recommended indexes; its URL and an engine on it."""
    url = database_url(args.admin_url, args.database)
    if not args.reuse:
        print(f"filled {args.rows:,} runs over {args.days} days in "
              f"{fill(args.admin_url, args.database, args.rows, args.days):.0f} s", flush=True)
    set_recommended_indexes(url, True)
    return url, postgres_engine(url, "orchestration")


def main() -> None:
    args = database_arguments(__doc__.splitlines()[0], 1_000_000).parse_args()
    seconds = fill(args.admin_url, args.database, args.rows)
    print(f"filled {args.database} with {args.rows:,} runs in {seconds:.1f} s")


if __name__ == "__main__":
    main()
