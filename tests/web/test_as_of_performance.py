"""``/api/performance-charts`` and ``/api/errors`` with ``at``: the window ends at the moment and
the runs are as they stood then (a run that ended later was running: in no rate, no error), from
the raw table and from the run rollups (hours holding such a run and the partial hour before the
moment come from the raw table); every number computed here from the rows the test wrote; live
answers unchanged; a bad ``at`` a 400 naming it. PostgreSQL (both shapes) and SQLite."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import text

from dashapp.display import iso_utc
from dashapp.storage import rollups
from queries import run_rollups
from queries._sql import app_db, app_table
from queries.clock import utc_now
from queries.outcomes import failure_rate, status_class, success_rate
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs

H = timedelta(hours=1)
M = timedelta(minutes=1)
AT_AGO = 30 * H


@pytest.fixture(params=["raw", "rollups"])
def client(request, dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    yield dash_app.server.test_client(), request.param
    with app_db(db).begin() as conn:  # other tests read raw
        for name in ("rollup_state", "run_hours", "run_days", "duration_days", "error_hours"):
            conn.execute(text(f"DELETE FROM {app_table(conn, name)}"))


def write(db, now, rolled: bool) -> list[Run]:
    runs = insert_runs(db, [
        Run("hubspot", "contacts", "success", 40 * H, 39 * H, processed=10),
        Run("hubspot", "contacts", "failed", 32 * H, 20 * H, error="Timeout after 30s"),  # running at the moment
        Run("callrail", "calls", "partial", 31 * H, 30 * H + 30 * M, error="3 records rejected"),
        Run("callrail", "calls", "failed", 30 * H + 10 * M, 30 * H + 5 * M, error="Timeout after 60s"),
        Run("hubspot", "deals", "success", 29 * H, 28 * H),  # started after it
        Run("genius", "jobs", "failed", 50 * H, 49 * H, error="401 Unauthorized"),
        Run("genius", "jobs", "success", 30 * H + 20 * M, 25 * H),  # running at it, started in its last hour
        Run("genius", "jobs", "completed", 60 * H, 59 * H),
    ], now)
    if rolled:
        rollups.build(db, now)
        assert run_rollups.ready(db) is not None
    return runs


def at_then(run: Run) -> str | None:
    """The run's status class at the moment, None when it had not started."""
    if run.start_ago <= AT_AGO:
        return None
    if run.end_ago is not None and run.end_ago < AT_AGO:
        return "running"
    return status_class(run.status)


def day(run: Run, now) -> str:
    return run.start(now).strftime("%Y-%m-%d")


def test_performance_as_of(client, db):
    client, mode = client
    now = utc_now().replace(microsecond=0)
    runs = write(db, now, mode == "rollups")
    at = now - AT_AGO
    body = client.get(f"/api/performance-charts?range=7d&at={quote(iso_utc(at))}").get_json()
    assert body["end"] == iso_utc(at) and body["as_of"] == iso_utc(at)
    shown = [(r, at_then(r)) for r in runs if at_then(r) is not None]
    per_day = Counter(day(r, now) for r, _ in shown)
    assert dict(zip(body["sync_frequency"]["labels"], body["sync_frequency"]["data"], strict=True)) == per_day
    rates = {}
    for label in per_day:
        classes = Counter(c for r, c in shown if day(r, now) == label)
        rates[label] = success_rate(classes["success"], classes["failed"])
    trend = body["success_rate_trend"]
    assert dict(zip(trend["labels"], trend["data"], strict=True)) == pytest.approx(rates)


def test_errors_as_of(client, db):
    client, mode = client
    now = utc_now().replace(microsecond=0)
    runs = write(db, now, mode == "rollups")
    at = now - AT_AGO
    body = client.get(f"/api/errors?range=7d&at={quote(iso_utc(at))}").get_json()
    problems = [r for r in runs if at_then(r) in ("failed", "partial")]
    assert [f["id"] for f in body["recent_failures"]] == [r.id for r in sorted(problems, key=lambda r: r.start_ago)]
    assert sum(c["count"] for c in body["error_classes"]) == len(problems)
    assert all(f"at={quote(iso_utc(at), safe='')}" in c["history_link"].replace(":", "%3A")
               for c in body["error_classes"])
    rates = {}
    for crm in {r.crm_source for r in runs}:
        classes = Counter(at_then(r) for r in runs if r.crm_source == crm)
        finished = classes["success"] + classes["failed"] + classes["partial"]
        if finished:
            rates[crm] = (finished, classes["failed"], failure_rate(classes["success"], classes["failed"]))
    assert {r["crm_source"]: (r["finished"], r["failed"], r["failure_rate"]) for r in body["crm_failure_rates"]} == \
        rates


def test_live_answers_are_unchanged(client, db):
    client, mode = client
    now = utc_now().replace(microsecond=0)
    runs = write(db, now, mode == "rollups")
    body = client.get("/api/errors?range=7d").get_json()
    problems = [r for r in runs if status_class(r.status) in ("failed", "partial")]
    assert sum(c["count"] for c in body["error_classes"]) == len(problems)
    assert "as_of" not in body
    charts = client.get("/api/performance-charts?range=7d").get_json()
    assert sum(charts["sync_frequency"]["data"]) == len(runs)


@pytest.mark.parametrize("route", ["/api/performance-charts", "/api/errors"])
def test_a_bad_at_is_a_400_naming_it(dash_app, use_engine, sqlite_db, route):
    use_engine(sqlite_db)
    response = dash_app.server.test_client().get(f"{route}?at=not-a-time")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("at:")
