"""The cost of record_api_call at the call site, and that nothing is lost at shutdown.

    python -m bench.crm_call_bench [--calls 200000] [--database-url postgresql://...]

Times N calls (with rate-limit headers, as the hooks pass them) on the caller's thread, then
closes the writer and counts the rows that reached the database. Default database: a temporary
SQLite file; pass --database-url to measure on PostgreSQL.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from dashapp.recording import crm_calls as api_calls
from dashapp.storage import migrate
from dashapp.storage.app_tables import api_calls as table
from dashapp.storage.db import postgres_engine, sqlite_engine

HEADERS = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "42", "X-RateLimit-Reset": "30"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    engine = postgres_engine(args.database_url, "orchestration") if args.database_url else \
        sqlite_engine(Path(tempfile.mkdtemp()) / "bench.sqlite3", "orchestration")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(table.delete())
    writer = api_calls.Writer(engine)
    api_calls.use_writer(writer)
    per_call = []
    for _ in range(args.calls // 1000):
        started = time.perf_counter()
        for i in range(1000):
            api_calls.record_api_call("hubspot", "/crm/v3/objects/contacts", "GET", 200, 120.5 + i % 7,
                                      headers=HEADERS)
        per_call.append((time.perf_counter() - started) / 1000 * 1e6)
    sent = len(per_call) * 1000
    started = time.perf_counter()
    writer.close()
    drain = time.perf_counter() - started
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(table)).scalar_one()
    print(f"{engine.dialect.name}: {sent:,} calls; call site median {statistics.median(per_call):.1f} µs, "
          f"p95 {sorted(per_call)[int(0.95 * len(per_call)) - 1]:.1f} µs (target < 50 µs); "
          f"stored {stored:,} of {sent:,} ({'none lost' if stored == sent else 'LOST ' + str(sent - stored)}); "
          f"draining at close took {drain:.1f} s")


if __name__ == "__main__":
    main()
