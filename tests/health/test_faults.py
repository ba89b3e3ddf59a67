"""Faults against real services while the app serves: PostgreSQL restarted, Redis stopped and
started, the Celery worker killed mid-task, and a table locked past the statement timeout. No fault
may give a 500, hang a page, or lose an alert or a queued retry.

PostgreSQL and Redis here are servers of the test's own (tests/support/services.py), so stopping them
leaves the machine's shared services alone.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from dashapp.alerts import evaluation as alerts
from dashapp.config import load_settings
from dashapp.errors import TIMED_OUT
from dashapp.payloads import result_cache
from dashapp.recording.recorder import record_sync
from dashapp.retries import claiming as retries
from dashapp.storage.app_tables import alerts as alerts_table
from dashapp.storage.db import postgres_engine, psycopg2_url
from dashapp.storage.sync_tables import metadata
from queries import failed_operations
from queries.clock import utc_now
from tests.conftest import empty_app_tables, need
from tests.health.test_health import AMQP_URL
from tests.support.celery_worker import celery_worker
from tests.support.rows import M, Run, edge_case_runs, expected_overview, insert_runs, insert_schedules
from tests.support.services import PostgresServer, RedisServer
from tests.web.test_overview_browser import cards_show

pytestmark = pytest.mark.usefixtures("browser_ready")


@pytest.fixture
def own_postgres():
    try:
        server = PostgresServer()
        server.start()
    except (RuntimeError, OSError) as exc:
        need("PostgreSQL server binaries", str(exc))
    plain = create_engine(psycopg2_url(server.url))
    with plain.begin() as conn:
        conn.execute(text("CREATE SCHEMA orchestration"))
        metadata.create_all(conn)
    plain.dispose()
    yield server
    server.close()


@pytest.fixture
def own_redis():
    try:
        server = RedisServer()
        server.start()
    except (RuntimeError, OSError) as exc:
        need("redis-server", str(exc))
    yield server
    server.close()


def status_of(url: str) -> int:
    return requests.get(url, timeout=20).status_code


def error_rate_runs() -> list[Run]:
    """HubSpot: 10 runs in the last hour, 3 failed: the error_rate and success_rate rules fire."""
    return [Run("hubspot", "contacts", "failed" if n < 3 else "success", (n + 2) * M, (n + 1) * M, 5, 5,
                error="HTTPError: 502" if n < 3 else None) for n in range(10)]


def test_postgres_restarted_while_the_overview_is_open(dash_duo, dash_app, use_engine, own_postgres):
    engine = postgres_engine(own_postgres.url, "orchestration", db_statement_timeout_seconds=5,
                             connect_args={"connect_timeout": 2})
    empty_app_tables(engine)
    runs = insert_runs(engine, [*edge_case_runs(), *error_rate_runs()], utc_now())
    settings = load_settings({"DATABASE_URL": own_postgres.url})
    before = alerts.evaluate(engine, settings, deliver=False)
    assert sorted(before.fired) == ["error_rate:hubspot", "success_rate:hubspot"]
    use_engine(engine, HEALTH_REFRESH_SECONDS="2", HEALTH_CACHE_SECONDS="0")
    dash_duo.start_server(dash_app)
    expected = expected_overview(runs)
    cards_show(dash_duo, expected)
    dash_duo.wait_for_contains_text("#health-pill-database", " ms", timeout=10)

    own_postgres.stop()
    dash_duo.wait_for_contains_text("#overview-error-banner", "Refresh failed", timeout=15)
    assert "showing the numbers from" in dash_duo.find_element("#overview-error-banner").text
    cards_show(dash_duo, expected)  # the last good numbers stay on the page
    dash_duo.wait_for_contains_text("#health-pill-database", "down", timeout=15)
    base = dash_duo.server_url
    assert [status_of(base + path) for path in ("/api/stats", "/api/crm-status", "/readyz", "/healthz")] \
        == [503, 503, 503, 200]
    with pytest.raises(SQLAlchemyError):  # the beat task fails this round; it keeps no half-written state
        alerts.evaluate(engine, settings, deliver=False)

    own_postgres.start()  # the same app and engine: the pool pre-pings and reconnects
    with record_sync("salesrabbit", "leads", db=engine) as run:
        run.add(processed=3, created=3)
    dash_duo.wait_for_no_elements("#overview-error-banner.show", timeout=20)
    cards_show(dash_duo, expected_overview([*runs, Run("salesrabbit", "leads", "success", M, M)]))
    dash_duo.wait_for_contains_text("#health-pill-database", " ms", timeout=15)
    assert status_of(base + "/api/stats") == 200

    after = alerts.evaluate(engine, settings, deliver=False)  # the alert fired before is the one still firing
    assert after.fired == [] and after.firing == 2
    with engine.connect() as conn:
        rows = conn.execute(select(alerts_table.c.rule, alerts_table.c.subject, alerts_table.c.state)).all()
    assert sorted(rows) == [("error_rate", "hubspot", "firing"), ("success_rate", "hubspot", "firing")]
    assert dash_duo.get_logs() == []
    engine.dispose()


def test_redis_stopped_and_started_while_viewers_refresh(dash_duo, dash_app, use_engine, pg_engine, own_redis):
    runs = insert_runs(pg_engine, edge_case_runs(), utc_now())
    use_engine(pg_engine, REDIS_URL=own_redis.url, CACHE_SECONDS="1", HEALTH_REFRESH_SECONDS="2",
               HEALTH_CACHE_SECONDS="0", HEALTH_TIMEOUT_SECONDS="0.5")
    result_cache.clear()
    dash_duo.start_server(dash_app)
    cards_show(dash_duo, expected_overview(runs))
    dash_duo.wait_for_contains_text("#health-pill-redis", " MB", timeout=10)
    wait_for_cached_keys(own_redis, 10, "the shared cache never used Redis")  # kept 1 s: a refresh writes again

    own_redis.stop()
    dash_duo.wait_for_contains_text("#health-pill-redis", "down", timeout=15)
    with record_sync("arrivy", "tasks", db=pg_engine) as run:  # new numbers still arrive, from the database
        run.add(processed=2, created=2)
    runs.append(Run("arrivy", "tasks", "success", M, M))
    cards_show(dash_duo, expected_overview(runs))
    assert requests.get(dash_duo.server_url + "/api/stats", timeout=20).json()["overview"]["completed_today"] \
        == expected_overview(runs)["completed_today"]
    assert dash_duo.find_elements("#overview-error-banner.show") == []

    own_redis.start()
    dash_duo.wait_for_contains_text("#health-pill-redis", " MB", timeout=20)
    wait_for_cached_keys(own_redis, result_cache.DOWN_SECONDS + 10, "the result cache never went back to Redis")
    assert dash_duo.get_logs() == []


def wait_for_cached_keys(server: RedisServer, seconds: float, failure: str) -> None:
    """Until the result cache has a key in ``server`` (each lives CACHE_SECONDS, so poll)."""
    import redis

    client, deadline = redis.Redis.from_url(server.url), time.monotonic() + seconds
    while not client.keys(result_cache.PREFIX + "*"):
        assert time.monotonic() < deadline, failure
        time.sleep(0.2)


def test_a_celery_worker_killed_mid_retry_loses_nothing(pg_engine, postgres_url, tmp_path: Path, dash_app,
                                                        use_engine):
    from kombu import Connection

    try:
        with Connection(AMQP_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure means no RabbitMQ
        need("RabbitMQ", f"{AMQP_URL}: {exc}")
    empty_app_tables(pg_engine)
    queue = f"sm_fault_{uuid.uuid4().hex[:8]}"
    env = {"DATABASE_URL": postgres_url, "CELERY_BROKER_URL": AMQP_URL, "CELERY_QUEUES": queue,
           "HEALTH_CACHE_SECONDS": "0", "HEALTH_TIMEOUT_SECONDS": "1"}
    settings = load_settings(env)
    use_engine(pg_engine, **env)
    client = dash_app.server.test_client()
    gate = tmp_path / "gate"
    held = insert_runs(pg_engine, [Run("retrytest", "contacts", "failed", 60 * M, 59 * M, error="HTTPError: 502",
                                       configuration={"records": 4, "gate": str(gate)})], utc_now())[0].id
    waiting = insert_runs(pg_engine, [Run("retrytest", "contacts", "failed", 58 * M, 57 * M, error="HTTPError: 503",
                                          configuration={"records": 6})], utc_now())[0].id

    with celery_worker(AMQP_URL, queue, DATABASE_URL=postgres_url,
                       RETRY_HANDLERS="tests.support.retry_handlers") as name:
        assert retries.retry(pg_engine, settings, [held], "alice").queued == [held]
        state_becomes(pg_engine, held, "running")
        assert client.get("/api/system-health").get_json()["celery"]["active_workers"] == 1
        os.kill(worker_pid(name), signal.SIGKILL)  # mid-task: the message was never acknowledged

        health = client.get("/api/system-health")
        assert health.status_code == 200 and health.get_json()["celery"]["active_workers"] == 0
        assert health.get_json()["celery"]["status"] in ("unhealthy", "degraded")
        assert retries.retry(pg_engine, settings, [waiting], "alice").queued == [waiting]  # broker still takes it
        assert operation(pg_engine, waiting)["state"] == "queued"

    gate.touch()
    with celery_worker(AMQP_URL, queue, DATABASE_URL=postgres_url, RETRY_HANDLERS="tests.support.retry_handlers"):
        for sync_id, records in ((held, 4), (waiting, 6)):  # both run on the new worker
            row = state_becomes(pg_engine, sync_id, "resolved")
            assert row["attempts"] == 1
            with pg_engine.connect() as conn:
                done = conn.execute(text("SELECT status, records_processed FROM orchestration.sync_history"
                                         " WHERE id = :id"), {"id": int(row["resolved_by_run"])}).one()
            assert tuple(done) == ("success", records)


def worker_pid(name: str) -> int:
    from celery import Celery

    app = Celery(broker=AMQP_URL)
    try:
        stats = app.control.inspect(timeout=2, destination=[name]).stats() or {}
    finally:
        app.close()
    return int(stats[name]["pid"])


def operation(engine, sync_id: int) -> dict:
    frame = failed_operations.operations(engine, failed_operations.OperationFilter(sync_ids=(sync_id,)), 1)
    return frame.to_dict("records")[0]


def state_becomes(engine, sync_id: int, state: str, timeout: float = 45.0) -> dict:
    deadline = time.monotonic() + timeout
    while (row := operation(engine, sync_id))["state"] != state:
        assert time.monotonic() < deadline, f"operation {sync_id} stayed {row['state']}, never {state}"
        time.sleep(0.2)
    return row


def test_a_locked_table_times_out_one_panel_and_the_rest_loads(dash_duo, dash_app, use_engine, pg_engine,
                                                              postgres_url):
    engine = postgres_engine(postgres_url, "orchestration", db_statement_timeout_seconds=1)
    runs = insert_runs(engine, edge_case_runs(), utc_now())
    insert_schedules(engine, [{"crm_source": "hubspot", "recurrence_type": "interval", "every": 10,
                               "period": "minutes"}], utc_now())
    use_engine(engine)
    dash_duo.start_server(dash_app)
    cards_show(dash_duo, expected_overview(runs))
    dash_duo.wait_for_contains_text("#crm-status-grid", "HubSpot", timeout=10)

    locker = create_engine(psycopg2_url(postgres_url))
    with locker.connect() as conn:
        conn.execute(text("LOCK TABLE orchestration.sync_schedule IN ACCESS EXCLUSIVE MODE"))  # until rollback
        with record_sync("leadconduit", "leads", db=engine) as run:
            run.add(processed=9, created=9)
        new_run = f"#{run.id}"
        runs.append(Run("leadconduit", "leads", "success", M, M))
        dash_duo.wait_for_contains_text("#crm-status-note", "statement timeout", timeout=15)
        cards_show(dash_duo, expected_overview(runs))  # the cards and recent activity still refresh
        dash_duo.wait_for_contains_text("#recent-activity-grid", new_run, timeout=10)
        assert "LeadConduit" not in dash_duo.find_element("#crm-status-grid").text  # the stale panel keeps its rows
        assert dash_duo.find_elements("#overview-error-banner.show") == []
        started = time.monotonic()
        answer = requests.get(dash_duo.server_url + "/api/crm-status", timeout=20)
        assert answer.status_code == 503 and "statement timeout" in answer.json()["error"]
        assert time.monotonic() - started < 10
        assert requests.get(dash_duo.server_url + "/api/stats", timeout=20).status_code == 200
        conn.rollback()
    locker.dispose()
    dash_duo.wait_for_no_elements("#crm-status-note .panel-note", timeout=15)
    dash_duo.wait_for_contains_text("#crm-status-grid", "LeadConduit", timeout=10)
    assert dash_duo.get_logs() == []
    engine.dispose()


def test_the_statement_timeout_comes_from_the_environment(postgres_url):
    from dashapp.storage.db import make_engine

    settings = load_settings({"DATABASE_URL": postgres_url, "DB_STATEMENT_TIMEOUT_SECONDS": "2.5"})
    served, cli = make_engine(settings, serving=True), make_engine(settings)
    with served.connect() as a, cli.connect() as b:
        assert a.execute(text("SHOW statement_timeout")).scalar() == "2500ms"
        assert b.execute(text("SHOW statement_timeout")).scalar() == "0"
    served.dispose()
    cli.dispose()


def test_a_locked_breaker_table_times_out_one_api_usage_panel(dash_app, use_engine, postgres_url, pg_engine):
    """The API usage page's refresh, posted as the browser does: breakers time out, the rest loads."""
    from tests.support.callbacks import callback_body

    engine = postgres_engine(postgres_url, "orchestration", db_statement_timeout_seconds=1)
    empty_app_tables(engine)
    use_engine(engine)
    client = dash_app.server.test_client()
    assert client.get("/_dash-dependencies").status_code == 200
    _, (body,) = callback_body(dash_app, "rate-limit-tiles.children",
                               [{"id": "api-usage-refresh-interval", "property": "n_intervals", "value": 1},
                                {"id": "api-usage-refresh-button", "property": "n_clicks", "value": None},
                                {"id": "api-usage-range", "property": "value", "value": "24h"},
                                {"id": "theme-mode", "property": "data", "value": "light"},
                                {"id": "viewer-timezone", "property": "data", "value": "UTC"}],
                               [{"id": "_pages_location", "property": "search", "value": ""},  # live
                                {"id": "api-usage-refresh-state", "property": "data", "value": None}])
    def refresh(state: dict | None) -> dict:
        body["state"][-1]["value"] = state
        answer = client.post("/_dash-update-component", json=body)
        assert answer.status_code == 200
        return answer.get_json()["response"]

    every_panel = refresh(None)["api-usage-refresh-state"]["data"]
    assert every_panel["loaded"] == ["API calls", "Circuit breakers", "Rate limits"]
    locker = create_engine(psycopg2_url(postgres_url))
    with locker.connect() as conn:
        conn.execute(text("LOCK TABLE sync_monitor.circuit_breaker_events IN ACCESS EXCLUSIVE MODE"))
        first = refresh(None)  # a page's first load: the breakers panel says it did not load
        loaded = refresh(every_panel)  # a page that has shown the breakers: it keeps them
        conn.rollback()
    locker.dispose()
    assert "did not load" in str(first["breaker-tiles"]["children"]) and "rate-limit-tiles" in first
    assert first["api-usage-note"]["children"].startswith(
        f"Circuit breakers did not load: {TIMED_OUT}. It tries again")
    assert first["api-usage-note"]["color"] == "warning"
    assert first["api-usage-refresh-state"]["data"]["loaded"] == ["API calls", "Rate limits"]

    response = loaded  # after a refresh in which every panel loaded
    assert "breaker-tiles" not in response and "breaker-timeline" not in response  # kept as they were
    assert "rate-limit-tiles" in response and "api-stats-grid" in response  # loaded
    note = response["api-usage-note"]["children"]
    assert note.startswith(f"Circuit breakers did not refresh: {TIMED_OUT}"), note
    assert response["api-usage-refresh-state"]["data"]["ok"] is True
    engine.dispose()
