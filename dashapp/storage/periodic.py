"""Jobs that every instance of the app runs on a timer but that must run once per interval across
all of them: the run rollups' refresh (a loop in every web process) and the alert evaluation (sent
by every Celery beat, or the demo's loop). Before each run the process claims the job's interval
in ``periodic_runs`` with one conditional upsert: it wins only when the job last started at least
the interval less a slack ago, by the database's clock (instances on other hosts need not agree
on the time). Of two processes that ask at once, the row lock lets one win; every other asker
skips until the next interval. Before ``python app.py db upgrade`` has made the table every process
runs the job, as before it existed. The slack (a tenth of the interval by default) leaves room for a
tick that comes a little early or a claim made a little late; a job whose claim comes through a
queue (a beat's task reaching a worker that starts cold) gives more.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import Engine, select, text

from dashapp.storage.app_tables import periodic_runs
from queries._sql import app_db, app_table, app_tables_exist
from queries.clock import utc_now

SLACK = 0.1  # of an interval, by default: two runs of a job are at least the rest of it apart
ROLLUPS = "rollups-refresh"
ALERTS = "alert-evaluation"


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def least_gap(every_seconds: float, slack_seconds: float | None = None) -> float:
    """The least time between two runs of a job run every ``every_seconds``."""
    slack = every_seconds * SLACK if slack_seconds is None else slack_seconds
    return max(0.0, every_seconds - slack)


def claim(engine: Engine, name: str, every_seconds: float, slack_seconds: float | None = None) -> bool:
    """Claim this interval of job ``name`` (run every ``every_seconds``): True for the one process
    that may run it now, False when it last started less than ``least_gap`` ago."""
    if not app_tables_exist(engine, periodic_runs.name):
        return True
    gap = least_gap(every_seconds, slack_seconds)
    with app_db(engine).begin() as conn:
        target = app_table(conn, periodic_runs.name)
        if conn.dialect.name == "postgresql":
            statement = text(f"""
                INSERT INTO {target} AS p (name, started_at, runs, started_by)
                VALUES (:name, statement_timestamp() AT TIME ZONE 'UTC', 1, :by)
                ON CONFLICT (name) DO UPDATE
                SET started_at = EXCLUDED.started_at, runs = p.runs + 1, started_by = EXCLUDED.started_by
                WHERE p.started_at <= EXCLUDED.started_at - make_interval(secs => :gap)""")
            params = {"name": name, "by": _me(), "gap": gap}
        else:  # SQLite: times as SQLAlchemy stores them (text that sorts as it reads)
            now = utc_now().replace(tzinfo=None)
            stamp = "%Y-%m-%d %H:%M:%S.%f"
            statement = text(f"""
                INSERT INTO {target} (name, started_at, runs, started_by) VALUES (:name, :now, 1, :by)
                ON CONFLICT (name) DO UPDATE
                SET started_at = excluded.started_at, runs = runs + 1, started_by = excluded.started_by
                WHERE started_at <= :cutoff""")
            params = {"name": name, "by": _me(), "now": now.strftime(stamp),
                      "cutoff": (now - timedelta(seconds=gap)).strftime(stamp)}
        return conn.execute(statement, params).rowcount == 1


def last(engine: Engine, name: str) -> dict | None:
    """Job ``name``'s row: when its latest interval was claimed (naive UTC), how many intervals
    were claimed in all, and by which host:pid; None before its first run."""
    with app_db(engine).connect() as conn:
        row = conn.execute(select(periodic_runs).where(periodic_runs.c.name == name)).mappings().first()
    return dict(row) if row else None
