"""5,000 syncs (a CRM source per client): the overview's states, ``/api/crm-status`` and ``/metrics``.

    python -m bench.sync_states_bench [--pairs 5000] [--runs 20] [--samples 10] [--port 18640]
                                      [--cache-seconds 0]

Makes a PostgreSQL database of the deployed shape (``DATABASE_URL``'s server, a database of its
own, dropped at the end) with ``--pairs`` CRM sources of one sync type each, ``--runs`` runs per
pair every 5 minutes, a ``sync_schedule`` row per pair and a django-celery-beat task per schedule
in schema ``django`` (off the role's search path, as in the warehouse): half intervals, half
crontabs in a zone, some disabled, some late (runs stopped an hour ago). Starts gunicorn (one
worker, CACHE_SECONDS=0) and times over HTTP, cold (the first request after start) and repeated:
``/api/crm-status`` (a page of 50, the default page, a state filter, a search), ``/metrics``;
and beside them the database floor: the latest-run-per-pair statement alone. Also
``warehouse_bench`` runs it with ``--pairs``. Tests never assert times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

import requests
from sqlalchemy import create_engine, make_url, text

from bench.warehouse_bench import start_gunicorn, timed_get
from dashapp.storage.db import psycopg2_url

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

DDL = """
CREATE SCHEMA orchestration;
CREATE SCHEMA django;
CREATE TABLE orchestration.sync_history (
    id BIGSERIAL PRIMARY KEY, crm_source VARCHAR(50) NOT NULL, sync_type VARCHAR(100) NOT NULL,
    endpoint VARCHAR(255), start_time TIMESTAMPTZ NOT NULL, end_time TIMESTAMPTZ,
    status VARCHAR(20) NOT NULL DEFAULT 'running', records_processed INTEGER NOT NULL DEFAULT 0,
    records_created INTEGER NOT NULL DEFAULT 0, records_updated INTEGER NOT NULL DEFAULT 0,
    records_failed INTEGER NOT NULL DEFAULT 0, error_message TEXT, configuration JSONB DEFAULT '{}',
    performance_metrics JSONB DEFAULT '{}', created_at TIMESTAMPTZ NOT NULL DEFAULT NOW());
CREATE INDEX ON orchestration.sync_history (crm_source, sync_type, start_time DESC);
CREATE INDEX ON orchestration.sync_history (start_time DESC);
CREATE INDEX ON orchestration.sync_history (status, start_time DESC);
CREATE INDEX ON orchestration.sync_history (end_time DESC);
CREATE TABLE django.django_celery_beat_intervalschedule (id SERIAL PRIMARY KEY, every INTEGER NOT NULL,
    period VARCHAR(24) NOT NULL);
CREATE TABLE django.django_celery_beat_crontabschedule (id SERIAL PRIMARY KEY, minute VARCHAR(240) NOT NULL,
    hour VARCHAR(96) NOT NULL, day_of_week VARCHAR(64) NOT NULL, day_of_month VARCHAR(124) NOT NULL,
    month_of_year VARCHAR(64) NOT NULL, timezone VARCHAR(63) NOT NULL);
CREATE TABLE django.django_celery_beat_clockedschedule (id SERIAL PRIMARY KEY, clocked_time TIMESTAMPTZ NOT NULL);
CREATE TABLE django.django_celery_beat_solarschedule (id SERIAL PRIMARY KEY, event VARCHAR(24) NOT NULL,
    latitude NUMERIC(9, 6) NOT NULL, longitude NUMERIC(9, 6) NOT NULL);
CREATE TABLE django.django_celery_beat_periodictask (id SERIAL PRIMARY KEY, name VARCHAR(200) NOT NULL UNIQUE,
    task VARCHAR(200) NOT NULL, args TEXT NOT NULL DEFAULT '[]', kwargs TEXT NOT NULL DEFAULT '{}',
    queue VARCHAR(200), exchange VARCHAR(200), routing_key VARCHAR(200), expires TIMESTAMPTZ,
    enabled BOOLEAN NOT NULL DEFAULT TRUE, last_run_at TIMESTAMPTZ, total_run_count INTEGER NOT NULL DEFAULT 0,
    date_changed TIMESTAMPTZ NOT NULL DEFAULT NOW(), description TEXT NOT NULL DEFAULT '',
    crontab_id INTEGER, interval_id INTEGER, solar_id INTEGER, clocked_id INTEGER,
    one_off BOOLEAN NOT NULL DEFAULT FALSE, start_time TIMESTAMPTZ, priority INTEGER,
    headers TEXT NOT NULL DEFAULT '{}', expire_seconds INTEGER);
CREATE TABLE orchestration.sync_schedule (id BIGSERIAL PRIMARY KEY, source_key VARCHAR(64) NOT NULL,
    name VARCHAR(128) NOT NULL, mode VARCHAR(16) NOT NULL, recurrence_type VARCHAR(16) NOT NULL, every INTEGER,
    period VARCHAR(16), minute VARCHAR(64), hour VARCHAR(64), day_of_week VARCHAR(64), day_of_month VARCHAR(64),
    month_of_year VARCHAR(64), start_at TIMESTAMPTZ, end_at TIMESTAMPTZ, enabled BOOLEAN NOT NULL DEFAULT TRUE,
    options JSONB NOT NULL DEFAULT '{}', periodic_task_id INTEGER UNIQUE, created_by_id INTEGER,
    updated_by_id INTEGER, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, crm_source VARCHAR(64) NOT NULL,
    model_name VARCHAR(128) NOT NULL);
"""


def fill(url: str, pairs: int, runs: int) -> None:
    """Pair p: source client_<p>, type contacts; every 10th stopped an hour ago (late), every 7th's
    latest run failed; even pairs an interval every 5 minutes, odd ones a crontab in New York;
    every 50th task disabled."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in DDL.split(";"):
            if statement.strip():
                conn.execute(text(statement))
        conn.execute(text("""
            INSERT INTO orchestration.sync_history (crm_source, sync_type, start_time, end_time, status,
                                                    records_processed)
            SELECT 'client_' || lpad(p::text, 5, '0'), 'contacts',
                   now() - make_interval(mins => 5 * r + CASE WHEN p % 10 = 0 THEN 60 ELSE 0 END),
                   now() - make_interval(mins => 5 * r + CASE WHEN p % 10 = 0 THEN 60 ELSE 0 END) + interval '40 s',
                   CASE WHEN r = 0 AND p % 7 = 0 THEN 'failed' ELSE 'success' END, 100
            FROM generate_series(1, :pairs) p, generate_series(0, :runs - 1) r"""), {"pairs": pairs, "runs": runs})
        conn.execute(text("INSERT INTO django.django_celery_beat_intervalschedule (every, period) "
                          "VALUES (5, 'minutes')"))
        conn.execute(text("INSERT INTO django.django_celery_beat_crontabschedule "
                          "(minute, hour, day_of_week, day_of_month, month_of_year, timezone) "
                          "VALUES ('*/5', '*', '*', '*', '*', 'America/New_York')"))
        conn.execute(text("""
            INSERT INTO django.django_celery_beat_periodictask (name, task, kwargs, enabled, last_run_at,
                                                                interval_id, crontab_id)
            SELECT 'sync client_' || p, 'warehouse.sync', '{"schedule_id": ' || p || '}', p % 50 <> 0,
                   now() - make_interval(mins => CASE WHEN p % 10 = 0 THEN 61 ELSE 1 END),
                   CASE WHEN p % 2 = 0 THEN 1 END, CASE WHEN p % 2 = 1 THEN 1 END
            FROM generate_series(1, :pairs) p"""), {"pairs": pairs})
        conn.execute(text("""
            INSERT INTO orchestration.sync_schedule (id, source_key, name, mode, recurrence_type, every, period,
                                                     periodic_task_id, crm_source, model_name)
            SELECT p, 'client_' || lpad(p::text, 5, '0'), 'contacts', 'delta', 'interval', 5, 'minutes', p,
                   'client_' || lpad(p::text, 5, '0'), 'Contact'
            FROM generate_series(1, :pairs) p"""), {"pairs": pairs})
        conn.execute(text("ANALYZE"))
    engine.dispose()


def floor_ms(url: str, samples: int) -> float:
    """The latest run of every pair (queries.crm_status's statement), straight through psycopg2."""
    from queries.choices import PAIRS_CTE

    h = "orchestration.sync_history"
    statement = (PAIRS_CTE.format(h=h) + f"""
        SELECT r.id FROM {h} r WHERE r.id IN (
            SELECT (SELECT l.id FROM {h} l WHERE l.crm_source = p.c AND l.sync_type = p.t
                    ORDER BY l.start_time DESC, l.id DESC LIMIT 1) FROM pairs p WHERE p.c IS NOT NULL)""")
    engine = create_engine(url)
    times = []
    with engine.connect() as conn:
        for _ in range(samples):
            started = time.perf_counter()
            conn.exec_driver_sql(statement).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return statistics.median(times)


def run(pairs: int, runs: int, samples: int, port: int,
        cache_seconds: float = 0) -> list[tuple[str, float, float, float]]:
    """(request, cold ms, warm p50, warm p95) per request, on a database made and dropped here."""
    name = f"sync_states_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(psycopg2_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(psycopg2_url(ADMIN_URL)).set(database=name).render_as_string(hide_password=False)
    try:
        started = time.perf_counter()
        fill(url, pairs, runs)
        print(f"filled {pairs:,} pairs x {runs} runs in {time.perf_counter() - started:.1f} s")
        process = start_gunicorn({"DATABASE_URL": url, "CACHE_SECONDS": str(cache_seconds)}, port)
        base = f"http://127.0.0.1:{port}"
        found = []
        try:
            session = requests.Session()
            for label, path in (("/api/crm-status?limit=50 (the overview's page)", "/api/crm-status?limit=50"),
                                ("/api/crm-status (200 CRMs, strips)", "/api/crm-status"),
                                ("/api/crm-status?state=late", "/api/crm-status?state=late&limit=50"),
                                ("/api/crm-status?q=client_04", "/api/crm-status?q=client_04&limit=50"),
                                ("/metrics", "/metrics")):
                cold = timed_get(session, base + path)
                warm = sorted(timed_get(session, base + path) for _ in range(samples))
                found.append((label, cold, statistics.median(warm), warm[int(0.95 * (len(warm) - 1))]))
            body = session.get(base + "/api/crm-status?limit=50", timeout=60).json()
            print(f"states: {body['states']}; total {body['total']:,}; page of 50: "
                  f"{len(session.get(base + '/api/crm-status?limit=50', timeout=60).content) / 1024:.0f} KB")
        finally:
            process.terminate()
            process.wait(timeout=30)
        found.append(("floor: latest run per pair (SQL alone)", floor_ms(url, samples), 0.0, 0.0))
        return found
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def report(found: list[tuple[str, float, float, float]]) -> None:
    print(f"{'request':55} {'cold ms':>9} {'p50 ms':>8} {'p95 ms':>8}")
    for label, cold, p50, p95 in found:
        print(f"{label:55} {cold:9.0f} {p50:8.0f} {p95:8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--port", type=int, default=18640)
    parser.add_argument("--cache-seconds", type=float, default=0,
                        help="CACHE_SECONDS for the server (0: every request computes; the app's default is "
                             "REFRESH_SECONDS / 3, shared by every viewer and /metrics)")
    args = parser.parse_args()
    report(run(args.pairs, args.runs, args.samples, args.port, args.cache_seconds))


if __name__ == "__main__":
    main()
