"""A run without an end is matched by time only over what its kind of run can take: the
p99 duration of its CRM and sync type's finished runs, at most a day, never past
now; and ``/api/runs/<id>`` is shared between viewers for CACHE_SECONDS, so a loop on one run
costs one computation per window. Every expected figure comes from rows the test wrote."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from dashapp.payloads import result_cache
from queries._sql import app_table
from tests.support.percentiles import percentile_cont
from tests.support.rows import Run, insert_runs

H = timedelta(hours=1)
D = timedelta(days=1)
CALL_EVERY = timedelta(minutes=5)



def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _finished(crm: str, kind: str, seconds: list[int], now: datetime) -> list[Run]:
    """Finished runs (successes and failures alike), one every 2 hours back from 3 hours ago."""
    return [Run(crm, kind, "success" if n % 3 else "failed", 3 * H + 2 * n * H + timedelta(seconds=length),
                3 * H + 2 * n * H) for n, length in enumerate(seconds)]


def _calls(engine, crm: str, first: datetime, last: datetime) -> list[datetime]:
    """Calls of ``crm`` without a run id every CALL_EVERY from ``first`` (half a step in) to
    ``last``, written with generate_series; their times, as the test expects them."""
    start = first + CALL_EVERY / 2
    count = int((last - start) / CALL_EVERY) + 1
    with engine.begin() as conn:
        conn.execute(text(
            f"INSERT INTO {app_table(conn, 'api_calls')} (called_at, crm_source, endpoint, method, status_code, "
            "duration_ms, retries) SELECT :start + n * interval '300 seconds', :crm, '/v3/objects', 'GET', "
            "CASE WHEN n % 7 = 0 THEN 429 ELSE 200 END, 50 + n % 100, 0 FROM generate_series(0, :count - 1) n"),
            {"start": start.replace(tzinfo=None), "crm": crm, "count": count})
    return [start + n * CALL_EVERY for n in range(count)]


def _breaker(engine, crm: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(text(
            f"INSERT INTO {app_table(conn, 'circuit_breaker_events')} (occurred_at, breaker, crm_source, from_state, "
            "to_state, failure_count, reason) VALUES (:at, :breaker, :crm, 'closed', 'open', 5, 'five failures')"),
            {"at": at.replace(tzinfo=None), "breaker": f"{crm}-contacts", "crm": crm})


def test_a_run_open_for_40_days_counts_the_calls_of_its_usual_p99_duration(client, pg_engine):
    now = _now()
    rng = random.Random(23)
    lengths = [rng.randint(600, 14_000) for _ in range(60)]
    deals = [rng.randint(30_000, 60_000) for _ in range(10)]  # another type of the same CRM: not its measure
    insert_runs(pg_engine, _finished("hubspot", "contacts", lengths, now) + _finished("hubspot", "deals", deals, now),
                now)
    [open_run] = insert_runs(pg_engine, [Run("hubspot", "contacts", "running", 40 * D, None)], now)
    start = now - 40 * D
    times = _calls(pg_engine, "hubspot", start - D, now)  # from before its start to now: ~11,800 calls
    _calls(pg_engine, "pipedrive", start, now)  # another CRM's: never counted
    p99 = percentile_cont([float(s) for s in lengths], 0.99)
    window_end = start + timedelta(seconds=p99)
    _breaker(pg_engine, "hubspot", start + timedelta(seconds=p99 / 2))  # in the window
    _breaker(pg_engine, "hubspot", start + timedelta(seconds=p99) + H)  # after it: not the run's

    page = client.get(f"/api/runs/{open_run.id}").json
    expected = sum(1 for t in times if start <= t <= window_end)
    assert 0 < expected < len(times) / 100
    assert page["api_calls_correlated"] is False
    assert page["api_calls_summary"]["calls"] == expected
    assert page["api_calls_summary"]["throttled"] == sum(
        1 for n, t in enumerate(times) if start <= t <= window_end and n % 7 == 0)
    window = page["calls_window"]
    assert window["bounded"] is True and window["basis"] == "crm_sync_type" and window["from_runs"] == len(lengths)
    assert window["seconds"] == pytest.approx(p99, abs=0.01)
    assert window["from"] == start.isoformat().replace("+00:00", "Z")
    assert "p99 of 60 finished HubSpot contacts runs" in window["reason"]
    assert [e["occurred_at"] for e in page["breaker_events"]] == [
        (start + timedelta(seconds=p99 / 2)).replace(microsecond=0).isoformat().replace("+00:00", "Z")]

    from dashapp.web import ids
    from dashapp.web.pages.runs import render

    def find(node, wanted: str):
        if getattr(node, "id", None) == wanted:
            return node
        children = node if isinstance(node, list) else getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children] if children is not None else []:
            if (found := find(child, wanted)) is not None:
                return found
        return None

    note = find(render(page, "UTC"), ids.RUN_CALLS_WINDOW)  # the page says which window it used
    assert note is not None and window["reason"] in note.children


def test_without_history_of_its_type_the_crm_then_a_day_and_never_past_now(client, pg_engine):
    now = _now()
    rng = random.Random(7)
    other_type = [rng.randint(100, 5_000) for _ in range(12)]
    insert_runs(pg_engine, _finished("close", "leads", other_type, now), now)
    runs = insert_runs(pg_engine, [
        Run("close", "contacts", "running", 10 * D, None),  # no contacts history: the CRM's p99
        Run("zoho", "contacts", "failed", 10 * D, None),  # no history at all: one day
        Run("zoho", "deals", "running", 2 * H, None),  # no history, started 2 h ago: up to now
    ], now)
    close_times = _calls(pg_engine, "close", now - 11 * D, now)
    zoho_times = _calls(pg_engine, "zoho", now - 11 * D, now)

    close_page = client.get(f"/api/runs/{runs[0].id}").json
    close_end = now - 10 * D + timedelta(seconds=percentile_cont([float(s) for s in other_type], 0.99))
    assert close_page["calls_window"]["basis"] == "crm"
    assert close_page["api_calls_summary"]["calls"] == sum(1 for t in close_times if now - 10 * D <= t <= close_end)

    day_page = client.get(f"/api/runs/{runs[1].id}").json
    assert day_page["calls_window"]["basis"] == "default" and day_page["calls_window"]["seconds"] == D.total_seconds()
    assert day_page["api_calls_summary"]["calls"] == sum(1 for t in zoho_times if now - 10 * D <= t <= now - 9 * D)

    recent = client.get(f"/api/runs/{runs[2].id}").json
    assert recent["calls_window"]["seconds"] <= (datetime.now(UTC) - (now - 2 * H)).total_seconds()
    assert recent["calls_window"]["seconds"] >= 2 * H.total_seconds()
    assert "so far" in recent["calls_window"]["reason"]
    assert recent["api_calls_summary"]["calls"] == sum(1 for t in zoho_times if t >= now - 2 * H)


def test_a_finished_run_keeps_its_own_window(client, pg_engine):
    now = _now()
    [run] = insert_runs(pg_engine, [Run("hubspot", "contacts", "failed", 30 * D, 20 * D)], now)
    times = _calls(pg_engine, "hubspot", now - 31 * D, now - 19 * D)
    page = client.get(f"/api/runs/{run.id}").json
    assert page["calls_window"]["bounded"] is False and page["calls_window"]["reason"] is None
    assert page["api_calls_summary"]["calls"] == sum(1 for t in times if now - 30 * D <= t <= now - 20 * D)


@pytest.mark.slow
def test_the_run_payload_is_computed_once_per_cache_window(dash_app, use_engine, app_env, pg_engine, redis_url):
    use_engine(pg_engine, **app_env, REDIS_URL=redis_url, CACHE_SECONDS="30")
    result_cache.clear()
    now = _now()
    runs = insert_runs(pg_engine, [Run("hubspot", "contacts", "running", 40 * D, None),
                                   Run("hubspot", "contacts", "success", 41 * D, 41 * D - H)], now)
    _calls(pg_engine, "hubspot", now - 41 * D, now)
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    client = dash_app.server.test_client()
    event.listen(pg_engine, "before_cursor_execute", count)
    try:
        first = client.get(f"/api/runs/{runs[0].id}")
        computed = len(statements)
        again = [client.get(f"/api/runs/{runs[0].id}") for _ in range(16)]
        assert computed > 0 and len(statements) == computed  # 16 more requests, not one more query
        assert all(a.status_code == 200 and a.json == first.json for a in again)
        result_cache.clear()  # another worker process: the answer is in Redis
        assert client.get(f"/api/runs/{runs[0].id}").json == first.json and len(statements) == computed
        other = client.get(f"/api/runs/{runs[1].id}")  # another run is its own entry
        assert other.json["run"]["id"] == runs[1].id and len(statements) > computed
    finally:
        event.remove(pg_engine, "before_cursor_execute", count)


def test_the_usual_duration_is_percentile_cont_on_every_backend(db):
    """``queries.run_detail.usual_duration`` on PostgreSQL (both table shapes) and SQLite: the p99
    of the latest finished runs of the pair, runs without an end or ending before they start left out."""
    from queries import run_detail

    now = _now()
    rng = random.Random(99)
    lengths = [rng.randint(60, 9_000) for _ in range(37)]
    insert_runs(db, _finished("hubspot", "contacts", lengths, now) + [
        Run("hubspot", "contacts", "running", 2 * H, None),  # not finished
        Run("hubspot", "contacts", "failed", H, 2 * H),  # ends before it starts
        Run("hubspot", "deals", "success", 5 * D, 4 * D),  # another type
    ], now)
    seconds, runs = run_detail.usual_duration(db, "hubspot", "contacts")
    expected = percentile_cont([float(s) for s in lengths], 0.99)
    assert runs == len(lengths) and seconds == pytest.approx(expected, abs=0.01)
    seconds, runs = run_detail.usual_duration(db, "hubspot", None)
    assert runs == len(lengths) + 1
    assert seconds == pytest.approx(percentile_cont([float(s) for s in lengths] + [D.total_seconds()], 0.99), abs=0.01)
    assert run_detail.usual_duration(db, "zoho", "contacts") is None
    seconds, runs = run_detail.usual_duration(db, "hubspot", "contacts", runs=10)  # the latest 10 only
    assert runs == 10 and seconds == pytest.approx(percentile_cont([float(s) for s in lengths[:10]], 0.99), abs=0.01)


def test_an_end_in_the_future_is_bounded_like_no_end(client, pg_engine):
    now = _now()
    [run] = insert_runs(pg_engine, [Run("pipedrive", "deals", "success", 40 * D, -3000 * D)], now)
    times = _calls(pg_engine, "pipedrive", now - 41 * D, now)
    window = client.get(f"/api/runs/{run.id}").json
    assert window["calls_window"]["bounded"] is True and window["calls_window"]["basis"] == "default"
    assert window["calls_window"]["reason"].startswith("its end is in the future")
    assert window["api_calls_summary"]["calls"] == sum(1 for t in times if now - 40 * D <= t <= now - 39 * D)
