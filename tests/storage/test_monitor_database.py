"""MONITOR_DATABASE_URL: the app's own tables in a PostgreSQL database of their own, the warehouse
read through a role that may only SELECT. Every feature works and nothing is written to the
warehouse; the failed-operations join is done in the app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, make_url, select, text

from dashapp.alerts import evaluation as alerts
from dashapp.auth import audit
from dashapp.auth.users import User
from dashapp.config import load_settings
from dashapp.payloads import failed as failed_payloads
from dashapp.recording.crm_calls import Writer
from dashapp.retries import claiming as retries
from dashapp.storage import migrate
from dashapp.storage.app_tables import audit_log, failed_operations, operation_attempts
from dashapp.storage.db import make_engine, psycopg2_url
from queries import failed_operations as queries
from queries import failed_split
from queries._sql import app_db, separate_app_db
from queries.clock import utc_now
from tests.conftest import _admin_engine, closed_port, empty_app_tables
from tests.storage.test_postgres_warehouse import _free_port, _get_json
from tests.support.rows import Run, insert_runs

pytestmark = pytest.mark.slow  # the app served as a process per test (10-20 s each)
ROOT = Path(__file__).resolve().parent.parent.parent
H = timedelta(hours=1)


@pytest.fixture(scope="session")
def monitor_url(postgres_url: str):
    name = make_url(postgres_url).database + "_monitor"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield psycopg2_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()




@pytest.fixture
def split(read_only_url, monitor_url, pg_engine):
    """The app's engine: warehouse through the SELECT-only role, app tables in the monitor database.
    The warehouse starts without the app's schema (other tests in the run may have made it)."""
    with pg_engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS sync_monitor CASCADE"))
    engine = make_engine(load_settings({"DATABASE_URL": read_only_url, "MONITOR_DATABASE_URL": monitor_url}))
    assert separate_app_db(engine)
    empty_app_tables(engine)
    yield engine
    app_db(engine).dispose()  # type: ignore[union-attr]
    engine.dispose()


def _warehouse_schemas(pg_engine: Engine) -> set[str]:
    with pg_engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT schema_name FROM information_schema.schemata"))}


@pytest.fixture
def written(split, pg_engine):
    """As tests/queries/test_failed_operations.py writes them: runs in the warehouse, the app's record of two
    operations and one retry's own run in the monitor database."""
    now = utc_now()
    runs = insert_runs(pg_engine, [
        Run("hubspot", "contacts", "failed", 2 * H, 2 * H - timedelta(minutes=1), error="HTTPError: 502",
            configuration={"batch_size": 100}),
        Run("callrail", "calls", "partial", 26 * H, 26 * H - timedelta(minutes=1), failed=3, error="rejected"),
        Run("hubspot", "deals", "failed", 240 * H, 240 * H - timedelta(minutes=1), error="old failure"),
        Run("hubspot", "contacts", "success", 3 * H, 3 * H - timedelta(minutes=1)),
        Run("hubspot", "contacts", "failed", 1 * H, 1 * H - timedelta(minutes=1), error="retry failed too"),
        Run("genius", "appointments", "failed", 5 * H, 5 * H - timedelta(minutes=1), error="AuthenticationError"),
    ], now)
    naive = now.replace(tzinfo=None)
    with app_db(split).begin() as conn:
        conn.execute(insert(failed_operations), [
            {"sync_id": runs[0].id, "crm_source": "hubspot", "operation_type": "contacts", "state": "failed",
             "attempts": 1, "max_attempts": 3, "last_error": "retry failed too", "updated_at": naive,
             "failed_at": runs[0].start(now).replace(tzinfo=None)},
            {"sync_id": runs[5].id, "crm_source": "genius", "operation_type": "appointments", "state": "resolved",
             "attempts": 1, "max_attempts": 3, "last_error": None, "updated_at": naive,
             "failed_at": runs[5].start(now).replace(tzinfo=None)},
        ])
        conn.execute(insert(operation_attempts).values(
            sync_id=runs[0].id, attempt=1, task_id=f"sync-monitor-retry-{runs[0].id}-1", task_name="t",
            requested_by="alice", state="failed", queued_at=naive, run_id=runs[4].id, error="retry failed too"))
    return runs, now


def test_db_upgrade_makes_the_app_tables_in_the_monitor_database_only(split, pg_engine):
    assert migrate.current(split) == migrate.head()
    assert "sync_monitor" not in _warehouse_schemas(pg_engine)
    with app_db(split).connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM sync_monitor.failed_operations")).scalar() == 0


def test_failed_operations_joined_in_the_app(split, written):
    runs, now = written
    week = now - timedelta(days=7)
    frame = queries.operations(split, queries.OperationFilter(since=week), 100)
    assert frame["sync_id"].tolist() == [runs[0].id, runs[5].id, runs[1].id]
    first = frame.iloc[0]
    assert (first["state"], first["attempts"], first["last_error"]) == ("failed", 1, "retry failed too")
    assert (frame.iloc[2]["state"], frame.iloc[2]["attempts"]) == ("failed", 0)
    everything = queries.operations(split, queries.OperationFilter(), 100)
    assert set(everything["sync_id"]) == {runs[i].id for i in (0, 1, 2, 5)}
    f = queries.OperationFilter(since=week, crm_sources=("hubspot", "genius"))
    assert queries.count_by_state(split, f) == {"failed": 1, "queued": 0, "running": 0, "resolved": 1, "abandoned": 0}
    only_failed = queries.OperationFilter(since=week, states=("failed",))
    assert queries.operations(split, only_failed, 10)["sync_id"].tolist() == [runs[0].id, runs[1].id]
    resolved = queries.OperationFilter(states=("resolved",))
    assert queries.operations(split, resolved, 10)["sync_id"].tolist() == [runs[5].id]
    assert queries.matching_ids(split, queries.OperationFilter(sync_types=("deals",)), 10) == [runs[2].id]
    older = queries.OperationFilter(since=week, until=now - timedelta(hours=24))  # the window's end, in the app too
    assert queries.operations(split, older, 10)["sync_id"].tolist() == [runs[1].id]
    assert queries.count_by_state(split, older)["failed"] == 1 and queries.count_by_state(split, older)["resolved"] == 0
    data = failed_payloads.operations_json(split, failed_payloads.operation_filter({"range": ["7d"]}, now), 500, 3)
    assert data["total"] == 3 and data["counts"]["failed"] == 2 and data["counts"]["resolved"] == 1
    assert "note" not in data


def test_the_join_walks_page_by_page(split, written, monkeypatch):
    """Pages of two runs: the same answer as one page, the retry's own run still left out."""
    runs, now = written
    whole = queries.operations(split, queries.OperationFilter(), 100)["sync_id"].tolist()
    monkeypatch.setattr(failed_split, "PAGE", 2)
    monkeypatch.setattr(failed_split, "CHUNK", 1)
    assert queries.operations(split, queries.OperationFilter(), 100)["sync_id"].tolist() == whole
    assert queries.operations(split, queries.OperationFilter(), 2)["sync_id"].tolist() == whole[:2]
    assert queries.count_by_state(split, queries.OperationFilter())["failed"] == 3
    assert queries.matching_ids(split, queries.OperationFilter(), 10) == list(reversed(whole))


def test_retry_audit_alerts_and_api_calls_write_only_the_monitor_database(split, written, pg_engine, tmp_path):
    runs, _ = written
    settings = load_settings({"CELERY_BROKER_URL": f"redis://127.0.0.1:{closed_port()}/0",
                              "SQLITE_PATH": str(tmp_path / "x.sqlite3")})
    outcome = retries.retry(split, settings, [runs[1].id, runs[5].id], "alice")
    assert outcome.skipped == {runs[5].id: "resolved", runs[1].id: "not queued"}
    row = queries.operations(split, queries.OperationFilter(sync_ids=(runs[1].id,)), 1).iloc[0]
    assert row["state"] == "failed" and row["last_error"].startswith("not queued:")
    audit.record(split, User("alice", "operator", "password"), "retry", "failed", target="op", source="api")
    assert failed_payloads.audit_json(split, 5)[0]["actor"] == "alice"
    outcome = alerts.evaluate(split, load_settings({}), deliver=False)
    assert not outcome.rule_errors
    writer = Writer(app_db(split))  # type: ignore[arg-type]
    writer.add_call((utc_now(), "hubspot", "/x", "GET", 200, 12.0, 0, None, None, None))  # no run
    writer.flush()
    with app_db(split).connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM sync_monitor.api_calls")).scalar() == 1
        assert conn.execute(select(audit_log.c.actor)).scalar() == "alice"
    assert "sync_monitor" not in _warehouse_schemas(pg_engine)


def test_the_app_serves_every_route_with_a_select_only_warehouse(read_only_url, monitor_url, split, written,
                                                                 pg_engine, tmp_path):
    runs, _ = written
    env = {**os.environ, "DATABASE_URL": read_only_url, "MONITOR_DATABASE_URL": monitor_url}
    upgrade = subprocess.run([sys.executable, "app.py", "db", "upgrade"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "rollups: runs up to" in upgrade.stderr  # the build's progress, in the log
    from dashapp.storage import rollups

    built = rollups.state(split)["refreshed_at"]
    port = _free_port()
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT,
                               env={**env, "PORT": str(port), "ROLLUP_REFRESH_SECONDS": "1"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        stats = _get_json(f"{base}/api/stats", time.monotonic() + 30)
        assert stats["overview"]
        failed = _get_json(f"{base}/api/failed-operations?range=30d", time.monotonic() + 5)
        assert failed["counts"]["resolved"] == 1 and "note" not in failed
        assert {o["id"] for o in failed["operations"]} == {runs[i].id for i in (0, 1, 2, 5)}
        with pytest.raises(urllib.error.HTTPError, match="403"):  # the audit is for operators only
            urllib.request.urlopen(base + "/api/audit", timeout=10)
        for route in ("/api/alerts", "/api/api-stats", "/api/performance-charts?days=30",
                      "/api/errors?days=30", "/metrics"):
            with urllib.request.urlopen(base + route, timeout=10) as response:
                assert response.status == 200, route
                body = response.read().decode()
                assert "not exist" not in body and "db upgrade" not in body, (route, body[:300])
        assert json.loads(urllib.request.urlopen(f"{base}/api/alerts", timeout=5).read())["alerts"] == []
        deadline = time.monotonic() + 20
        while rollups.state(split)["refreshed_at"] == built:  # the web process keeps the rollups current
            assert time.monotonic() < deadline, "the web process did not refresh the rollups"
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "sync_monitor" not in _warehouse_schemas(pg_engine)


def test_rollups_are_built_from_a_select_only_warehouse_into_the_monitor_database(split, pg_engine, monkeypatch):
    from dashapp.storage import rollups
    from tests.storage.test_run_rollups import assert_exact, sample_runs

    now = utc_now()
    insert_runs(pg_engine, sample_runs(), now)
    assert rollups.build(split, now) > 0
    assert_exact(split, monkeypatch, now)
    assert rollups.refresh(split, now + timedelta(minutes=1))["rows"] >= 0
    assert "sync_monitor" not in _warehouse_schemas(pg_engine)


def test_session_generations_live_in_the_monitor_database(split, pg_engine):
    """Without Redis, a sign-out's generation is kept in the app's tables: with MONITOR_DATABASE_URL,
    in the monitor database (the warehouse role may only SELECT, and has no such table)."""
    from queries import session_generations

    at = utc_now().replace(tzinfo=None)
    assert session_generations.generation(split, "alice") == 0
    assert session_generations.advance(split, "alice", at) == 1
    assert session_generations.advance(split, "alice", at) == 2
    assert session_generations.generation(split, "alice") == 2
    with app_db(split).connect() as conn:  # type: ignore[union-attr]
        assert conn.execute(text("SELECT generation FROM sync_monitor.session_generations "
                                 "WHERE user_name = 'alice'")).scalar() == 2
    assert "sync_monitor" not in _warehouse_schemas(pg_engine)
