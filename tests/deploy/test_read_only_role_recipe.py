"""The README's read-only role recipe ("Pointing it at a real warehouse"), read out
of README.md and run exactly as written on a fresh warehouse (the user's tables as its Django
migrations deploy them, beat's in schema ``django``); then the app runs as that role, its own
tables in a second database the role owns (MONITOR_DATABASE_URL: ``python app.py db upgrade``
there, then gunicorn), and its pages and JSON answer with figures computed from the rows this test
wrote, the next syncs from beat's tables, and nothing written to the warehouse."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, create_engine, make_url, text

from dashapp import display
from dashapp.storage.db import postgres_engine, psycopg2_url
from queries.clock import utc_now
from tests import conftest
from tests.conftest import DEPLOYED_TIMEZONE
from tests.support import deployed_shape
from tests.support.gunicorn_server import ROOT, gunicorn
from tests.support.rows import Run, insert_runs

M = timedelta(minutes=1)
H = timedelta(hours=1)
# django-celery-beat's two schedule tables tests/support/deployed_shape.py does not make
BEAT_EXTRA = """
CREATE TABLE django.django_celery_beat_clockedschedule (id SERIAL PRIMARY KEY, clocked_time TIMESTAMPTZ NOT NULL);
CREATE TABLE django.django_celery_beat_solarschedule (id SERIAL PRIMARY KEY, event VARCHAR(24) NOT NULL,
    latitude NUMERIC(9, 6) NOT NULL, longitude NUMERIC(9, 6) NOT NULL);
"""
WAREHOUSE_TABLES = ("orchestration.sync_history", "orchestration.sync_schedule",
                    *(f"django.django_celery_beat_{name}" for name in ("periodictask", "intervalschedule",
                                                                        "crontabschedule", "clockedschedule",
                                                                        "solarschedule")))


def readme_recipe() -> str:
    """The SQL block of the README's "Pointing it at a real warehouse"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Pointing it at a real warehouse\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1)


def _warehouse(engine: Engine) -> None:
    """The deployed shape with beat's tables in schema django (the Django's search_path)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA django; SET LOCAL search_path TO django")
        conn.exec_driver_sql(deployed_shape.DDL)
        conn.exec_driver_sql(BEAT_EXTRA)


def _admin(url: str) -> Engine:
    return create_engine(psycopg2_url(url), isolation_level="AUTOCOMMIT")


def _drop_role(role: str) -> None:
    with _admin(conftest.ADMIN_URL).connect() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


def _role_url(url: str, role: str, password: str) -> str:
    return make_url(url).set(username=role, password=password).render_as_string(hide_password=False)


def _contents(url: str) -> dict[str, str]:
    """Each warehouse table's rows, as one checksum."""
    with _admin(url).connect() as conn:
        return {t: conn.execute(text(f"SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), '')) "
                                     f"FROM {t} AS t")).scalar_one() for t in WAREHOUSE_TABLES}


@pytest.fixture
def recipe_run(tmp_path) -> Iterator[dict]:
    """The warehouse with this test's rows, the README's recipe run on it, and a monitor database
    the recipe's role owns; the role dropped at the end (with the databases its grants were in)."""
    sql = readme_recipe()
    role = re.search(r"CREATE ROLE (\w+)", sql).group(1)
    password = re.search(r"PASSWORD '([^']*)'", sql).group(1)
    _drop_role(role)  # a run killed before its end left it behind
    suffix = uuid.uuid4().hex[:10]
    try:
        with conftest.test_database(f"sm_recipe_dw_{suffix}", DEPLOYED_TIMEZONE, _warehouse) as warehouse, \
                conftest.test_database(f"sm_recipe_monitor_{suffix}", "UTC", lambda _engine: None) as monitor:
            now = utc_now()
            expected = _write_rows(warehouse, now)
            with _admin(warehouse).connect() as conn:
                conn.exec_driver_sql(sql)  # exactly as the README has it
            with _admin(monitor).connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{make_url(monitor).database}" OWNER TO {role}'))
            yield {"warehouse": warehouse, "monitor": monitor, "expected": expected, "tmp": tmp_path,
                   "env": {"DATABASE_URL": _role_url(warehouse, role, password),
                           "MONITOR_DATABASE_URL": _role_url(monitor, role, password)}}
    finally:
        _drop_role(role)


def _write_rows(warehouse: str, now) -> dict:
    """Runs of the last day (and one older), and hubspot/contacts's beat task with its schedule
    row; returns the figures they make."""
    engine = postgres_engine(warehouse, "orchestration")
    runs = [Run("hubspot", "contacts", "success", (i + 2) * H, (i + 2) * H - 5 * M, processed=100 + i)
            for i in range(7)]
    runs += [Run("hubspot", "contacts", "failed", 30 * M, 25 * M, error="HTTPError: 502"),
             Run("salesforce", "accounts", "failed", 50 * M, 45 * M, error="HTTPError: 500"),
             Run("salesforce", "accounts", "partial", 40 * M, 35 * M, processed=9, failed=1),
             Run("salesforce", "accounts", "running", 2 * M, None),
             Run("salesforce", "accounts", "success", 50 * H, 49 * H)]  # ended before the last 24 hours
    insert_runs(engine, runs, now)
    engine.dispose()
    beat = create_engine(psycopg2_url(warehouse), connect_args={"options": "-c search_path=django"})
    last_run = (now - 20 * M).replace(microsecond=0)
    task = deployed_shape.beat_task(beat, "hubspot contacts", every=1, period="hours", last_run_at=last_run)
    deployed_shape.schedule(beat, "hubspot", "contacts", every=1, period="hours", periodic_task_id=task)
    beat.dispose()
    return {"overview": {"active_syncs": 1, "completed_today": 7, "failed_today": 2, "partial_today": 1},
            "success_rate": round(7 / 9 * 100, 2), "next_sync": display.iso_utc(last_run + H)}


def _app(env: dict[str, str], tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SQLITE_PATH": str(tmp / "x.db"), **env})


def test_the_readme_recipe_as_written_serves_the_warehouse_read_only(recipe_run):
    env, expected = recipe_run["env"], recipe_run["expected"]
    before = _contents(recipe_run["warehouse"])
    upgraded = _app(env, recipe_run["tmp"], "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]
    with gunicorn({**env, "REDIS_URL": "", "CACHE_SECONDS": "0"}, recipe_run["tmp"]) as base:
        for page in ("/", "/history", "/failed", "/health"):
            assert requests.get(f"{base}{page}", timeout=10).status_code == 200, page
        stats = requests.get(f"{base}/api/stats", timeout=10).json()["overview"]
        assert {k: stats[k] for k in expected["overview"]} == expected["overview"]
        assert stats["success_rate"] == expected["success_rate"]
        crms = {c["crm_source"]: c for c in requests.get(f"{base}/api/crm-status", timeout=10).json()["crms"]}
        (contacts,) = crms["hubspot"]["sync_types"]
        assert (contacts["next_sync_source"], contacts["next_sync"]) == ("beat", expected["next_sync"])
        assert "django" in contacts["next_sync_note"] and "permission denied" not in contacts["next_sync_note"]
        recent = requests.get(f"{base}/api/recent-syncs?limit=500", timeout=10).json()
        assert recent["total"] == 12
        failed = requests.get(f"{base}/api/failed-operations?range=7d", timeout=10).json()
        assert sorted(o["crm_source"] for o in failed["operations"]) == ["hubspot", "salesforce", "salesforce"]
    assert _contents(recipe_run["warehouse"]) == before  # the warehouse was only read
    with _admin(recipe_run["warehouse"]).connect() as conn:
        assert conn.execute(text("SELECT to_regnamespace('sync_monitor')")).scalar() is None
    with _admin(recipe_run["monitor"]).connect() as conn:  # the app's tables, and the rollups built there
        assert conn.execute(text("SELECT to_regclass('sync_monitor.alembic_version')")).scalar() is not None
        # the rollups, built by the upgrade: at least the runs of the hours closed then
        assert conn.execute(text("SELECT SUM(runs) FROM sync_monitor.run_hours")).scalar() >= 8
