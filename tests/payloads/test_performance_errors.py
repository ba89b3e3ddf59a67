"""Performance and error aggregates on PostgreSQL and SQLite, from rows the test wrote, and
their JSON routes."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from queries.clock import utc_now
from queries.error_classes import error_class, search_text
from queries.errors import classes_from, daily_messages, failure_rates_from, recent_failures
from queries.performance import (
    ALL,
    daily_percentiles,
    daily_rollup,
    records_by_crm_from,
    runs_per_day_from,
    success_rate_from,
    throughput_from,
)
from tests.support.rows import Run, history_runs, insert_runs


def day(run: Run, now) -> str:
    return run.start(now).strftime("%Y-%m-%d")


def seconds(run: Run) -> float:
    return (run.start_ago - run.end_ago).total_seconds()


def nearest_rank(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@pytest.fixture
def written(db):
    now = utc_now()
    return db, insert_runs(db, history_runs(), now), now


def window(now, days=30):
    return now - timedelta(days=days), now


def test_records_runs_and_success_rate_per_day(written):
    db, runs, now = written
    start, end = window(now)
    inside = [r for r in runs if r.start_ago <= timedelta(days=30)]
    rollup = daily_rollup(db, start, end)
    records = records_by_crm_from(rollup)
    totals = Counter()
    for r in inside:
        totals[r.crm_source] += r.processed or 0
    assert dict(zip(records["crm_source"], records["records"].astype(int), strict=True)) == dict(totals)

    per_day = runs_per_day_from(rollup)
    expected = Counter((day(r, now), r.crm_source) for r in inside)
    assert {(d, c): int(n) for d, c, n in per_day.itertuples(index=False)} == dict(expected)

    rates = success_rate_from(rollup).set_index("day")
    for d in {day(r, now) for r in inside}:
        ok = sum(1 for r in inside if day(r, now) == d and r.status == "success")
        bad = sum(1 for r in inside if day(r, now) == d and r.status == "failed")
        assert float(rates.loc[d, "success_rate"]) == (round(ok * 100 / (ok + bad), 2) if ok + bad else 0)


def test_duration_percentiles(written):
    db, runs, now = written
    start, end = window(now)
    frame = daily_percentiles(db, start, end)
    groups = defaultdict(list)
    for r in runs:
        if r.end_ago is not None and r.status in ("success", "partial") and r.start_ago <= timedelta(days=30):
            groups[(day(r, now), r.crm_source)].append(seconds(r))
            groups[(day(r, now), ALL)].append(seconds(r))
    assert len(frame) == len(groups)
    for row in frame.itertuples(index=False):
        values = sorted(groups[(row.day, row.crm_source)])
        assert row.runs == len(values)
        assert row.p50 == pytest.approx(nearest_rank(values, 0.5), abs=0.01)
        assert row.p95 == pytest.approx(nearest_rank(values, 0.95), abs=0.01)


def test_throughput_is_records_over_seconds(written):
    db, runs, now = written
    start, end = window(now)
    frame = throughput_from(daily_rollup(db, start, end))
    sums = defaultdict(lambda: [0, 0.0])
    for r in runs:
        if r.end_ago is not None and r.start_ago <= timedelta(days=30) and seconds(r) > 0:
            sums[(r.crm_source, r.sync_type)][0] += r.processed or 0
            sums[(r.crm_source, r.sync_type)][1] += seconds(r)
    got = {(c, t): float(v) for c, t, v, _ in frame.itertuples(index=False)}
    assert got == pytest.approx({k: rec / sec for k, (rec, sec) in sums.items()}, rel=1e-6)


def test_an_empty_window_gives_empty_frames(written):
    db, _, now = written
    start, end = now + timedelta(days=1), now + timedelta(days=2)
    rollup = daily_rollup(db, start, end)
    for frame in (daily_percentiles(db, start, end), rollup, records_by_crm_from(rollup),
                  success_rate_from(rollup), runs_per_day_from(rollup), throughput_from(rollup)):
        assert frame.empty


def test_error_classes_group_messages_that_differ_only_in_values(db):
    now = utc_now()
    messages = [
        "HTTPError: 429 Too Many Requests for url: https://api.hubapi.com/crm/v3/objects?after=48213",
        "HTTPError: 429 Too Many Requests for url: https://api.hubapi.com/crm/v3/objects?after=99",
        "HTTPError: 429 Too Many Requests for url: https://eu1.api.hubapi.com/crm/v3/objects?after=7",
        "ReadTimeout: HTTPSConnectionPool(host='api.callrail.com', port=443): Read timed out.",
        "Report a1b2c3d4-5e6f-7a8b-9c0d-112233445566 not ready at 2026-11-02T04:00:00Z",
        "Report 00000000-1111-2222-3333-444444444444 not ready at 2026-11-03T05:00:00Z",
    ]
    runs = [Run("hubspot", "contacts", "failed", timedelta(hours=i + 1), timedelta(hours=i), error=m)
            for i, m in enumerate(messages)]
    runs.append(Run("hubspot", "contacts", "success", timedelta(hours=1), timedelta(minutes=30)))
    insert_runs(db, runs, now)
    classes = classes_from(daily_messages(db, now - timedelta(days=1), now))
    assert list(classes["runs"]) == [3, 2, 1]
    assert classes["error_class"].iloc[0] == error_class(messages[0])
    assert "<n>" in classes["error_class"].iloc[0] and "<host>" in classes["error_class"].iloc[0]
    assert error_class(messages[4]) == error_class(messages[5])
    assert all(search_text(c) for c in classes["error_class"])

    recent = recent_failures(db, 10)
    assert list(recent["error_message"]) == messages  # newest first
    rates = failure_rates_from(daily_rollup(db, now - timedelta(days=1), now))
    assert rates.to_dict("records")[0] == {"crm_source": "hubspot", "finished": 7, "failed": 6, "partial": 0,
                                           "failure_rate": pytest.approx(round(600 / 7, 2)), "partial_rate": 0.0}


@pytest.fixture
def client(dash_app, use_engine, db):
    use_engine(db)
    return dash_app.server.test_client()


def test_performance_charts_json(client, db):
    now = utc_now()
    runs = insert_runs(db, history_runs(), now)
    body = client.get("/api/performance-charts?range=7d&crm_source=genius").get_json()
    inside = [r for r in runs if r.start_ago <= timedelta(days=7) and r.crm_source == "genius"]  # the past 168 h
    assert set(body) >= {"sync_duration_trend", "records_by_crm", "success_rate_trend", "sync_frequency"}
    assert body["records_by_crm"] == {"labels": ["Genius"], "data": [sum(r.processed or 0 for r in inside)]}
    per_day = Counter(day(r, now) for r in inside)
    assert dict(zip(body["sync_frequency"]["labels"], body["sync_frequency"]["data"], strict=True)) == dict(per_day)
    for value in ("0", "3651", "week"):
        response = client.get(f"/api/performance-charts?days={value}")
        assert response.status_code == 400 and response.get_json()["error"].startswith("days:")


def test_errors_json_links_each_class_to_its_runs(client, db):
    now = utc_now()
    runs = insert_runs(db, history_runs(), now)
    body = client.get("/api/errors?range=30d").get_json()
    problems = [r for r in runs if r.status in ("failed", "partial") and r.start_ago <= timedelta(days=30)]
    assert sum(c["count"] for c in body["error_classes"]) == len(problems)  # partial runs are counted too
    assert sum(c["partial"] for c in body["error_classes"]) == sum(1 for r in problems if r.status == "partial") > 0
    for found in body["error_classes"]:  # each count is exactly the runs its link opens
        page = client.get(found["history_link"].replace("/history", "/export/sync-history.csv"))
        assert page.status_code == 200
        opened = list(csv.DictReader(io.StringIO(page.get_data(as_text=True))))
        assert len(opened) == found["count"], found["error_class"]
    assert client.get("/api/errors?days=x").status_code == 400


def test_closed_days_come_from_the_cache(db):
    """A second call asks the database only for the days that have not settled (ended < 1 h ago)."""
    from dashapp.payloads import day_cache as day_cache_payloads
    from dashapp.payloads import performance as performance_payloads

    now = utc_now()
    runs = insert_runs(db, history_runs(), now)
    day_cache_payloads.DAYS.clear()
    calls: list[tuple] = []
    original = daily_rollup

    def counting(engine, start, end, *selection):
        calls.append((start, end))
        return original(engine, start, end, *selection)

    import queries.performance as performance
    performance.daily_rollup, saved = counting, performance.daily_rollup
    try:
        first = performance_payloads.performance_frames(db, now - timedelta(days=7), now)
        later = now + timedelta(seconds=1)
        second = performance_payloads.performance_frames(db, later - timedelta(days=7), later)
    finally:
        performance.daily_rollup = saved
    # the first day, in part, is read on its own each time; the whole days after it once
    assert calls[0] == (now - timedelta(days=7), (now - timedelta(days=6)).replace(hour=0, minute=0, second=0,
                                                                                     microsecond=0))
    assert calls[1][0].date() == (now - timedelta(days=6)).date()
    assert calls[2][0] == later - timedelta(days=7)
    assert calls[3][0].date() == (later - timedelta(hours=1)).date()
    for name in first:
        assert first[name].reset_index(drop=True).equals(second[name].reset_index(drop=True)), name
    assert int(first["runs_per_day"]["runs"].sum()) == sum(1 for r in runs if r.start_ago <= timedelta(days=7))
