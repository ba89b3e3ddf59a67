"""What a bulk retry costs: N failed runs, one action that claims them all and sends N tasks.

    python -m bench.retry_bench --database-url postgresql://postgres@127.0.0.1:5432/DB \\
        --broker redis://127.0.0.1:6379/14 [--operations 1000]

Writes N failed runs into the database's sync_history (use a scratch database), retries them in
one call of ``dashapp.retries.claiming.retry`` (the page's and the API's path) and prints the time, then
the same again (all already queued: the idempotent no-op). The queue is deleted afterwards.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import insert, text

from dashapp.config import load_settings
from dashapp.retries import claiming as retries
from dashapp.storage import migrate
from dashapp.storage.db import postgres_engine
from dashapp.storage.sync_tables import metadata, sync_history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--operations", type=int, default=1000)
    args = parser.parse_args()
    engine = postgres_engine(args.database_url, "orchestration")
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS orchestration"))
        metadata.create_all(conn)
    migrate.upgrade(engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        ids = [conn.execute(insert(sync_history).values(
            crm_source="benchcrm", sync_type="contacts", status="failed", start_time=now - timedelta(minutes=i + 1),
            end_time=now - timedelta(minutes=i), error_message="HTTPError: 502", configuration={"page": i},
        ).returning(sync_history.c.id)).scalar_one() for i in range(args.operations)]
    queue = "sync_monitor_retry_bench"
    settings = load_settings({"DATABASE_URL": args.database_url, "CELERY_BROKER_URL": args.broker,
                              "CELERY_QUEUES": queue, "RETRY_BULK_LIMIT": str(args.operations)})
    started = time.perf_counter()
    first = retries.retry(engine, settings, ids, "bench")
    claimed = time.perf_counter() - started
    started = time.perf_counter()
    again = retries.retry(engine, settings, ids, "bench")
    repeat = time.perf_counter() - started
    depth = redis.Redis.from_url(args.broker).llen(queue)
    redis.Redis.from_url(args.broker).delete(queue)
    print(f"{args.operations:,} operations: first retry {claimed * 1000:.0f} ms ({len(first.queued):,} queued, "
          f"{claimed / max(len(first.queued), 1) * 1e6:.0f} µs each); the same again {repeat * 1000:.0f} ms "
          f"({len(again.queued)} queued); {depth:,} messages on the broker")


if __name__ == "__main__":
    main()
