"""The claims that make a periodic job (the rollup refresh, the alert evaluation) run once per
interval across every process and instance (``dashapp.storage.periodic``), on PostgreSQL in both
shapes and on SQLite: one claim per interval, one winner of many at once, and every process runs
the job while the app's tables are older than the claims' table."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from dashapp.storage import periodic
from tests.conftest import empty_app_tables


def test_one_claim_per_interval_and_another_after_it(db):
    empty_app_tables(db)
    assert periodic.last(db, "job") is None
    assert periodic.claim(db, "job", 60)
    assert [periodic.claim(db, "job", 60) for _ in range(3)] == [False] * 3
    assert periodic.claim(db, "other job", 60)  # each job has its own intervals
    assert periodic.claim(db, "job", 60, slack_seconds=60)  # no least gap left: claimed again
    row = periodic.last(db, "job")
    assert row["runs"] == 2 and row["started_by"].endswith(f":{os.getpid()}")
    assert periodic.least_gap(60) == 54 and periodic.least_gap(5, 2) == 3


def test_of_many_processes_asking_at_once_one_wins(pg_engine):
    empty_app_tables(pg_engine)
    gate = threading.Barrier(8)

    def ask(_: int) -> bool:
        gate.wait(timeout=30)
        return periodic.claim(pg_engine, "burst", 60)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert answers.count(True) == 1 and periodic.last(pg_engine, "burst")["runs"] == 1


def test_before_the_upgrade_made_the_table_every_process_runs_the_job(pg_engine):
    empty_app_tables(pg_engine)
    from alembic import command

    from dashapp.storage.migrate import _config

    with pg_engine.begin() as conn:  # back to 0011 through every later migration's downgrade (0012 drops the table)
        command.downgrade(_config(conn, "sync_monitor"), "0011")
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('sync_monitor.periodic_runs')")).scalar() is None
    try:
        assert [periodic.claim(pg_engine, "job", 60) for _ in range(2)] == [True, True]
    finally:
        empty_app_tables(pg_engine)  # upgraded again
    assert periodic.claim(pg_engine, "job", 60) and not periodic.claim(pg_engine, "job", 60)
