"""``GET /api/runs/<id>`` and the run page's SQL: a failed run with its correlated calls, 429s and
breaker; a running run's expected duration and ETA from its history; an old run whose calls are
matched by time; 404 and 400. Every number is computed from rows the test wrote."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from dashapp.recording import crm_calls as api_calls
from dashapp.recording.circuit_breaker import CircuitBreaker
from dashapp.recording.recorder import record_sync
from queries import run_detail
from queries.clock import utc_now
from tests.conftest import call_writer
from tests.support.percentiles import percentile_cont
from tests.support.rows import Run, insert_runs


@pytest.fixture
def writer(db):
    yield from call_writer(db)


@pytest.fixture
def client(dash_app, use_engine, db, writer):
    use_engine(db)
    return dash_app.server.test_client()


def _successes(crm: str, kind: str, seconds: list[int], first_ago: timedelta) -> list[Run]:
    """Successful runs one hour apart, newest first, lasting ``seconds`` each."""
    runs = []
    for n, length in enumerate(seconds):
        start = first_ago + timedelta(hours=n)
        runs.append(Run(crm, kind, "success", start, start - timedelta(seconds=length), processed=1000 + n))
    return runs



class Clock:
    def __init__(self, moment: datetime) -> None:
        self.now = moment

    def __call__(self) -> datetime:
        return self.now


def test_a_failed_run_shows_its_calls_429s_breaker_and_history(client, db, writer):
    now = utc_now()
    lengths = [100, 140, 120, 160, 130]
    earlier = insert_runs(db, _successes("hubspot", "contacts", lengths, timedelta(hours=1)), now)
    clock = Clock(now - timedelta(minutes=10))
    breaker = CircuitBreaker("hubspot-contacts", "hubspot", failure_threshold=2, reset_timeout=600)
    api_calls.record_api_call("hubspot", "/crm/v3/objects/contacts", "GET", 200, 5.0,
                              called_at=clock.now - timedelta(seconds=5))  # before the run: not its own
    with pytest.raises(ConnectionError), record_sync("hubspot", "contacts", db=db, clock=clock,
                                                     configuration={"batch_size": 100}) as run:
        for n, remaining in enumerate((40, 30, 20)):
            clock.now += timedelta(seconds=10)
            api_calls.record_api_call("hubspot", "/crm/v3/objects/contacts", "GET", 200, 100.0 * (n + 1),
                                      headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": str(remaining)},
                                      called_at=clock.now)
            run.add(processed=100)
        for n in range(2):
            clock.now += timedelta(seconds=10)
            with pytest.raises(ConnectionError), breaker:
                api_calls.record_api_call("hubspot", "/crm/v3/objects/contacts", "GET", 429, 400.0 + 100 * n,
                                          headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                                                   "Retry-After": "30"}, called_at=clock.now)
                raise ConnectionError("429 Client Error: Too Many Requests")
        clock.now += timedelta(seconds=10)
        raise ConnectionError("429 Client Error: Too Many Requests for url: https://api.hubapi.com/x?after=48213")
    writer.flush()

    response = client.get(f"/api/runs/{run.id}")
    assert response.status_code == 200
    body = response.get_json()
    shown = body["run"]
    assert (shown["id"], shown["status"], shown["status_class"]) == (run.id, "failed", "failed")
    assert shown["duration_seconds"] == 60.0 and shown["records_processed"] == 300
    assert shown["records_per_second"] == 5.0
    assert shown["error_message"] == ("ConnectionError: 429 Client Error: Too Many Requests for url: "
                                      "https://api.hubapi.com/x?after=48213")
    assert shown["error_class"] == "ConnectionError: <n> Client Error: Too Many Requests for url: https://<host>/x?after=<n>"
    assert shown["error_class_link"].startswith("/history?") and "status=failed" in shown["error_class_link"]
    assert shown["configuration"] == {"batch_size": 100}
    assert shown["performance_metrics"]["duration_seconds"] == 60.0
    assert shown["eta"] is None and shown["overdue"] is False
    assert shown["expected_seconds"] == pytest.approx(percentile_cont(lengths, 0.5))

    calls = body["api_calls"]
    assert body["api_calls_correlated"] is True
    assert [(c["status"], c["duration_ms"], c["correlated"]) for c in calls] == [
        (200, 100.0, True), (200, 200.0, True), (200, 300.0, True), (429, 400.0, True), (429, 500.0, True)]
    summary = body["api_calls_summary"]
    assert summary["calls"] == 5 and summary["throttled"] == 2
    assert summary["by_class"] == {"ok": 3, "4xx": 2, "5xx": 0, "no_response": 0}
    assert summary["lowest_remaining"] == 0
    assert summary["p50_ms"] == 300.0
    # percentile_cont on PostgreSQL (480), nearest rank on SQLite (500)
    assert summary["p95_ms"] == (480.0 if db.dialect.name == "postgresql" else 500.0)
    assert [(e["breaker"], e["to_state"], e["correlated"]) for e in body["breaker_events"]] == [
        ("hubspot-contacts", "OPEN", True)]

    previous = body["previous_runs"]
    assert [p["id"] for p in previous] == [r.id for r in earlier]
    changed = body["what_changed"]
    assert changed["median_duration_seconds"] == statistics.median(lengths)
    assert changed["duration_ratio"] == round(60.0 / statistics.median(lengths), 2)
    assert changed["median_records"] == statistics.median(r.processed for r in earlier)
    assert changed["last_success"]["id"] == earlier[0].id and changed["runs_since_last_success"] == 0
    assert body["failed_operation"]["state"] == "failed" and body["failed_operation"]["attempts"] == 0


def test_a_running_run_has_an_eta_from_its_history_and_overdue_past_p95(client, db):
    now = utc_now()
    lengths = [60 + 7 * n for n in range(25)]  # 25 successes; the newest 20 count
    insert_runs(db, _successes("callrail", "calls", lengths, timedelta(hours=2)), now)
    insert_runs(db, [Run("callrail", "calls", "failed", timedelta(minutes=30), timedelta(minutes=1))], now)
    on_time, late = insert_runs(db, [
        Run("callrail", "calls", "running", timedelta(seconds=50), None, processed=500),
        Run("callrail", "calls", "in_progress", timedelta(seconds=300), None, processed=900),
    ], now)
    recent = lengths[:20]
    median, p95 = percentile_cont(recent, 0.5), percentile_cont(recent, 0.95)

    body = client.get(f"/api/runs/{on_time.id}").get_json()["run"]
    assert body["status_class"] == "running"
    assert body["expected_seconds"] == pytest.approx(median, abs=0.001)
    assert body["expected_p95_seconds"] == pytest.approx(p95, abs=0.001)
    assert body["expected_from_runs"] == 20
    eta = datetime.fromisoformat(body["eta"].replace("Z", "+00:00"))
    expected_eta = now - timedelta(seconds=50) + timedelta(seconds=median)
    assert abs((eta - expected_eta).total_seconds()) < 2  # ISO 8601: whole seconds
    assert body["progress_percent"] == pytest.approx(body["duration_seconds"] * 100 / median, abs=0.2)
    assert body["overdue"] is False and body["records_processed"] == 500
    assert body["records_per_second"] == pytest.approx(500 / body["duration_seconds"], rel=0.05)

    overdue = client.get(f"/api/runs/{late.id}").get_json()["run"]
    assert overdue["status"] == "in_progress" and overdue["status_class"] == "running"
    assert overdue["overdue"] is True and overdue["progress_percent"] > 100


def test_expected_durations_for_many_pairs_in_one_statement(db):
    now = utc_now()
    a = [30, 10, 20, 40]
    b = [100 + n for n in range(23)]
    insert_runs(db, _successes("genius", "jobs", a, timedelta(hours=1)), now)
    insert_runs(db, _successes("five9", "calls", b, timedelta(hours=1)), now)
    insert_runs(db, [Run("genius", "jobs", "failed", timedelta(minutes=5), timedelta(minutes=1)),
                     Run("genius", "jobs", "completed", timedelta(minutes=50), timedelta(minutes=49))], now)
    frame = run_detail.expected_durations(db, [("genius", "jobs"), ("five9", "calls"), ("arrivy", "tasks")])
    got = {(r["crm_source"], r["sync_type"]): r for r in frame.to_dict("records")}
    assert set(got) == {("genius", "jobs"), ("five9", "calls")}  # arrivy has no success
    genius = [*a, 60]  # 'completed' is a success too
    assert got[("genius", "jobs")]["median_seconds"] == pytest.approx(percentile_cont(genius, 0.5))
    assert got[("genius", "jobs")]["p95_seconds"] == pytest.approx(percentile_cont(genius, 0.95))
    assert got[("five9", "calls")]["median_seconds"] == pytest.approx(percentile_cont(b[:20], 0.5))
    assert got[("five9", "calls")]["p95_seconds"] == pytest.approx(percentile_cont(b[:20], 0.95))
    assert int(got[("five9", "calls")]["runs"]) == 20


def test_an_old_run_has_its_crms_calls_in_its_window_matched_by_time(client, db, writer):
    now = utc_now().replace(microsecond=0)
    old, other = insert_runs(db, [
        Run("arrivy", "tasks", "failed", timedelta(hours=3), timedelta(hours=3) - timedelta(minutes=2),
            error="HTTPError: 503 Service Unavailable"),
        Run("arrivy", "tasks", "success", timedelta(hours=2), timedelta(hours=2) - timedelta(minutes=1)),
    ], now)
    start = now - timedelta(hours=3)
    for offset, status, crm in ((-30, 200, "arrivy"), (30, 200, "arrivy"), (60, 503, "arrivy"),
                                (60, 200, "five9"), (200, 200, "arrivy")):
        api_calls.record_api_call(crm, "/tasks", "GET", status, 50.0, called_at=start + timedelta(seconds=offset))
    with record_sync("arrivy", "tasks", db=db, clock=lambda: start + timedelta(seconds=90)):
        api_calls.record_api_call("arrivy", "/tasks", "GET", 200, 5.0, called_at=start + timedelta(seconds=90))
    writer.flush()
    body = client.get(f"/api/runs/{old.id}").get_json()
    assert body["api_calls_correlated"] is False
    assert [(c["called_at"], c["status"], c["correlated"]) for c in body["api_calls"]] == [
        ((start + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"), 200, False),
        ((start + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ"), 503, False)]
    assert body["api_calls_summary"]["by_class"]["5xx"] == 1
    assert body["run"]["error_class"] == "HTTPError: <n> Service Unavailable"
    assert client.get(f"/api/runs/{other.id}").get_json()["api_calls"] == []


@pytest.mark.parametrize(("raw", "status"), [("abc", 400), ("-1", 400), ("1.5", 400), ("0", 400),
                                             ("9" * 30, 400), ("%E2%91%A0", 400), ("999999", 404)])
def test_a_bad_or_unknown_id_is_a_json_error(client, db, raw, status):
    response = client.get(f"/api/runs/{raw}")
    assert response.status_code == status
    assert response.is_json and "id" in response.get_json()["error"]


def test_times_are_utc_iso(client, db):
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    (run,) = insert_runs(db, [Run("gsheet", "sheet", "success", timedelta(0), timedelta(seconds=-30))], now)
    body = client.get(f"/api/runs/{run.id}").get_json()["run"]
    assert (body["start_time"], body["end_time"]) == ("2026-11-20T12:00:00Z", "2026-11-20T12:00:30Z")


def test_a_failed_demo_run_shows_its_429s_and_the_breaker_that_opened(client, db, writer):
    """The embedded demo's simulated runs make their calls inside record_sync (through its pool)."""
    import dataclasses
    import random

    from dashapp.demo import embedded as demo
    from dashapp.storage.sync_tables import sync_history

    hubspot = next(j for j in demo.JOBS if j.crm == "hubspot")
    throttled = next(e for e in hubspot.errors if "429" in e)
    job = dataclasses.replace(hubspot, failure_rate=1.0, errors=(throttled,))
    clock = Clock(utc_now() - timedelta(minutes=5))

    def advance(seconds: float) -> None:
        clock.now += timedelta(seconds=seconds)

    api = demo.DemoApi()
    demo.simulate_run(db, job, random.Random(3), clock, advance, api)
    writer.flush()
    with db.connect() as conn:
        run_id = conn.execute(sync_history.select().with_only_columns(sync_history.c.id)).scalar_one()
    body = client.get(f"/api/runs/{run_id}").get_json()
    assert body["run"]["status"] == "failed" and "429" in body["run"]["error_message"]
    assert body["api_calls_correlated"] is True
    statuses = [c["status"] for c in body["api_calls"]]
    # the demo's CRM client retries a 429 twice, below the breaker's 3 failures in a row
    assert statuses.count(429) == 2 and body["api_calls_summary"]["throttled"] == 2
    assert 200 in statuses  # the pages fetched on the demo's pool before the 429s
    assert body["breaker_events"] == []

    callrail = next(j for j in demo.JOBS if j.crm == "callrail")
    timeout = next(e for e in callrail.errors if e.startswith("ReadTimeout"))
    demo.simulate_run(db, dataclasses.replace(callrail, failure_rate=1.0, errors=(timeout,)), random.Random(3),
                      clock, advance, api)
    writer.flush()
    with db.connect() as conn:
        run_id = conn.execute(sync_history.select().with_only_columns(sync_history.c.id)
                              .order_by(sync_history.c.id.desc()).limit(1)).scalar_one()
    body = client.get(f"/api/runs/{run_id}").get_json()
    assert [c["status"] for c in body["api_calls"]].count(None) == 3  # a timeout: three tries, no answer
    assert [(e["to_state"], e["correlated"]) for e in body["breaker_events"]] == [("OPEN", True)]
