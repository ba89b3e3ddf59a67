"""PostgreSQL as a warehouse holds it: timestamptz columns, a read-only role, and the app
started with DATABASE_URL against a database with only the user's two tables."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from dashapp.payloads import overview as payloads
from dashapp.storage.db import postgres_engine
from queries.clock import utc_now
from queries.overview import overview_counts
from tests.support.rows import edge_case_runs, expected_overview, insert_runs

ROOT = Path(__file__).resolve().parents[2]


def test_timestamptz_columns_give_the_same_numbers(postgres_url):
    """A warehouse whose time columns are timestamptz: same rows, same figures."""
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS tz_orchestration CASCADE"))
        conn.execute(text("CREATE SCHEMA tz_orchestration"))
        conn.execute(text("CREATE TABLE tz_orchestration.sync_history (LIKE orchestration.sync_history "
                          "INCLUDING DEFAULTS INCLUDING IDENTITY)"))
        conn.execute(text("ALTER TABLE tz_orchestration.sync_history "
                          "ALTER COLUMN start_time TYPE timestamptz, ALTER COLUMN end_time TYPE timestamptz"))
        conn.execute(text("CREATE SEQUENCE tz_orchestration.ids OWNED BY tz_orchestration.sync_history.id"))
        conn.execute(text("ALTER TABLE tz_orchestration.sync_history "
                          "ALTER COLUMN id SET DEFAULT nextval('tz_orchestration.ids')"))
    admin.dispose()
    engine = postgres_engine(postgres_url, "tz_orchestration")
    now = utc_now()
    runs = insert_runs(engine, edge_case_runs(), now)
    assert overview_counts(engine, now).as_dict() == expected_overview(runs)
    rows = payloads.recent(engine, 3, now)["syncs"]
    newest = min(runs, key=lambda r: r.start_ago)
    assert rows[0]["id"] == newest.id
    assert rows[0]["start_time"] == newest.start(now).strftime("%Y-%m-%dT%H:%M:%SZ")
    engine.dispose()




def test_every_overview_number_works_with_a_read_only_role(read_only_url, pg_engine):
    now = utc_now()
    runs = insert_runs(pg_engine, edge_case_runs(), now)
    reader = postgres_engine(read_only_url, "orchestration")
    assert payloads.stats(reader, now)["overview"] == expected_overview(runs)
    assert len(payloads.crm_statuses(reader, now)["crms"]) == len({r.crm_source for r in runs})
    assert payloads.recent(reader, 20, now)["total"] == len(runs)
    with pytest.raises(Exception, match="permission denied"), reader.begin() as conn:
        conn.execute(text("DELETE FROM orchestration.sync_history"))
    reader.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_app(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env={**os.environ, **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _get_json(url: str, deadline: float) -> dict:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.slow
def test_app_serves_a_bare_warehouse_through_a_read_only_role(read_only_url, pg_engine, tmp_path):
    """DATABASE_URL=postgresql://... python app.py, against only the user's two tables."""
    now = utc_now()
    runs = insert_runs(pg_engine, edge_case_runs(), now)
    port = _free_port()
    process = _start_app({"DATABASE_URL": read_only_url, "PORT": str(port),
                          "SQLITE_PATH": str(tmp_path / "unused.sqlite3")})
    try:
        stats = _get_json(f"http://127.0.0.1:{port}/api/stats", time.monotonic() + 30)
        assert stats["overview"] == expected_overview(runs)
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        assert "Sync Monitor" in page
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert not (tmp_path / "unused.sqlite3").exists()  # no demo file when a warehouse is given


@pytest.mark.parametrize(("env", "message"), [
    ({"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}, "cannot reach the database"),
    ({"SYNC_SCHEMA": "no_such_schema"}, "table no_such_schema.sync_history not found"),
    ({"REFRESH_SECONDS": "soon"}, "REFRESH_SECONDS='soon' is not a whole number"),
    ({"AUTH_USERS_FILE": "/nonexistent/users.json"}, "AUTH_USERS_FILE=/nonexistent/users.json: No such file"),
    ({"AUTH_PROXY_HEADER": "X User"}, "AUTH_PROXY_HEADER='X User' is not an HTTP header name"),
])
@pytest.mark.slow
def test_a_bad_start_prints_one_line_and_exits(postgres_url, env, message):
    env = {"DATABASE_URL": postgres_url, **env}
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
