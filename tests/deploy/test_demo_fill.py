"""``python app.py demo fill``: the demo's history written into a PostgreSQL database (what
compose's ``demo`` profile runs), so the monitor has something to show without a warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from sqlalchemy import create_engine, text

from tests.conftest import test_database as database_of_this_run
from tests.deploy.docker import PREFIX, ROOT


def fill(*args: str, database_url: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "app.py", "demo", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


def test_a_day_of_demo_runs_fills_an_empty_database():
    database = f"{PREFIX.replace('-', '_')}demo_{uuid.uuid4().hex[:8]}"
    with database_of_this_run(database, "UTC", lambda engine: None) as url:
        done = fill("fill", "--days", "1", database_url=url)
        assert done.returncode == 0, done.stderr[-2000:]
        written = int(done.stdout.split("demo: ")[1].split()[0])
        engine = create_engine(url)
        with engine.connect() as conn:
            runs = conn.execute(text("SELECT count(*), min(start_time) > now() - interval '25 hours'"
                                     " FROM orchestration.sync_history")).one()
            schedules = conn.execute(text("SELECT count(*) FROM orchestration.sync_schedule")).scalar_one()
            api_calls = conn.execute(text("SELECT count(*) FROM sync_monitor.api_calls")).scalar_one()
        engine.dispose()
        assert written > 0 and runs == (written, True)
        assert schedules > 0 and api_calls > 0  # the demo's CRM calls, in the app's own tables
        again = fill("fill", "--days", "1", database_url=url)
        assert again.returncode == 0 and int(again.stdout.split("demo: ")[1].split()[0]) < written


def test_it_refuses_without_a_database_or_with_a_bad_argument():
    alone = fill("fill", database_url=None)
    assert alone.returncode == 2 and "set DATABASE_URL" in alone.stderr
    bad = fill("fill", "--days", "90", database_url="postgresql://nobody@127.0.0.1:1/none")
    assert bad.returncode == 2 and "usage: python app.py demo fill [--days N]" in bad.stderr
