"""The API page's queries on PostgreSQL and SQLite, from calls and transitions the test recorded."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy
import pytest

from dashapp.recording import crm_calls as api_calls
from queries.crm_api_usage import breaker_states, breaker_summary, call_series, call_stats, rate_limits
from tests.conftest import call_writer


@pytest.fixture
def recorded(db):
    for writer in call_writer(db, flush_seconds=0.05):
        yield db, writer


def test_call_statistics_and_percentiles(recorded):
    db, writer = recorded
    now = datetime.now(UTC)
    rng = random.Random(5)
    calls = []
    for i in range(400):
        crm, endpoint = [("hubspot", "/contacts"), ("hubspot", "/deals"), ("genius", "/appointments")][i % 3]
        status = rng.choice([200, 200, 200, 201, 404, 429, 500, 503, None])
        ms = round(rng.lognormvariate(4, 0.6), 3)
        calls.append((crm, endpoint, status, ms, i % 4))
        api_calls.record_api_call(crm, endpoint, "GET", status, ms, retries=i % 4,
                                  called_at=now - timedelta(minutes=i))
    api_calls.record_api_call("hubspot", "/contacts", "GET", 200, 1.0, called_at=now - timedelta(days=3))  # outside
    writer.flush()
    postgres = db.dialect.name == "postgresql"
    # up to two hours: exact, over the raw calls
    recent = calls[:120]  # called 0..119 minutes ago
    exact = call_stats(db, now - timedelta(minutes=119, seconds=30), now + timedelta(seconds=1))
    check(exact.set_index(["crm_source", "endpoint"]), recent, "linear" if postgres else "inverted_cdf", exact=True)
    # longer: from the per-minute rollup; counts exact, percentiles within the histogram's 15%
    day = call_stats(db, now - timedelta(hours=24), now + timedelta(seconds=1))
    check(day.set_index(["crm_source", "endpoint"]), calls, "inverted_cdf", exact=False)
    week = call_stats(db, now - timedelta(days=2, hours=12), now + timedelta(seconds=1))  # the per-hour rollup
    check(week.set_index(["crm_source", "endpoint"]), calls, "inverted_cdf", exact=False)
    series = call_series(db, now - timedelta(hours=24), now + timedelta(seconds=1), "hour")
    assert int(series["calls"].sum()) == len(calls)
    short = call_series(db, now - timedelta(minutes=119, seconds=30), now + timedelta(seconds=1), "minute")
    assert int(short["calls"].sum()) == len(recent)


def check(frame, calls, method: str, exact: bool) -> None:
    assert len(frame) == len({(c, e) for c, e, *_ in calls})
    for key in {(c, e) for c, e, *_ in calls}:
        mine = [c for c in calls if (c[0], c[1]) == key]
        row = frame.loc[key]
        assert row["calls"] == len(mine)
        assert row["successes"] == sum(1 for c in mine if c[2] is not None and c[2] < 400)
        assert row["client_errors"] == sum(1 for c in mine if c[2] is not None and 400 <= c[2] < 500)
        assert row["server_errors"] == sum(1 for c in mine if c[2] is not None and c[2] >= 500)
        assert row["no_response"] == sum(1 for c in mine if c[2] is None)
        assert row["retries"] == sum(c[4] for c in mine)
        latencies = numpy.array([c[3] for c in mine])
        for q, column in ((50, "p50_ms"), (95, "p95_ms"), (99, "p99_ms")):
            expected = numpy.percentile(latencies, q, method=method)
            assert row[column] == pytest.approx(expected, rel=1e-9 if exact else 0.15)
        assert row["avg_ms"] == pytest.approx(latencies.mean())
        failures = len(mine) - row["successes"]
        assert row["error_rate"] == pytest.approx(round(failures * 100 / len(mine), 2))


def test_rate_limits_take_the_latest_observation(recorded):
    db, writer = recorded
    now = datetime.now(UTC).replace(microsecond=0)
    for minutes, remaining in ((30, 90), (20, 50), (10, 7)):
        api_calls.record_api_call("hubspot", "/contacts", "GET", 200, 10, called_at=now - timedelta(minutes=minutes),
                                  headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": str(remaining),
                                           "X-RateLimit-Reset": "60"})
    api_calls.record_api_call("hubspot", "/contacts", "GET", 429, 10, called_at=now - timedelta(minutes=5),
                              headers={"Retry-After": "120"})
    api_calls.record_api_call("genius", "/jobs", "GET", 200, 10, called_at=now - timedelta(minutes=5))  # no limit
    writer.flush()
    frame = rate_limits(db, now - timedelta(hours=1), now + timedelta(seconds=1))
    assert list(frame["crm_source"]) == ["hubspot"]
    row = frame.iloc[0]
    assert row["remaining"] == 0 and row["throttled"] == 1  # the 429 is the latest observation
    assert abs((row["reset_at"].to_pydatetime() - (now - timedelta(minutes=5) + timedelta(seconds=120)))
               .total_seconds()) < 1


def test_long_windows_find_each_latest_limit_through_the_hourly_rollup(recorded, monkeypatch):
    """Past two hours the pairs that reported a limit come from the hourly rollup and each one's
    latest call from one index probe; the answer equals the raw table's, 429s counted, a pair whose
    only limit was seen before the window (in the window's first hour) left out."""
    from queries import crm_api_usage

    db, writer = recorded
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=30)

    def limited(crm, endpoint, ago, remaining, status=200):
        api_calls.record_api_call(crm, endpoint, "GET", status, 10, called_at=now - ago,
                                  headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": str(remaining)})

    for hours, remaining in ((29, 80), (12, 40), (3, 20)):
        limited("hubspot", "/contacts", timedelta(hours=hours), remaining)
    limited("hubspot", "/contacts", timedelta(hours=2), 0, status=429)
    limited("hubspot", "/contacts", timedelta(hours=26), 5, status=429)
    limited("genius", "/jobs", timedelta(hours=20), 60)
    limited("callrail", "/calls", timedelta(hours=30, seconds=1), 10)  # before the window, in its first hour
    api_calls.record_api_call("callrail", "/calls", "GET", 200, 10, called_at=now - timedelta(hours=1))  # no limit
    writer.flush()
    long = rate_limits(db, start, now + timedelta(seconds=1))
    monkeypatch.setattr(crm_api_usage, "_rollup_table", lambda conn, a, b: None)
    raw = rate_limits(db, start, now + timedelta(seconds=1))
    assert long.to_dict("records") == raw.to_dict("records")
    assert list(long["crm_source"]) == ["genius", "hubspot"]
    hubspot = long.set_index("crm_source").loc["hubspot"]
    assert hubspot["remaining"] == 0 and hubspot["throttled"] == 2


def test_breaker_time_open_in_the_window(recorded):
    db, writer = recorded
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=1)
    for minutes, (a, b, failures) in ((90, ("CLOSED", "OPEN", 5)), (50, ("OPEN", "HALF_OPEN", 5)),
                                      (50, ("HALF_OPEN", "CLOSED", 0)), (20, ("CLOSED", "OPEN", 5))):
        api_calls.record_transition("hubspot-contacts", "hubspot", a, b, failures, "test",
                                    at=now - timedelta(minutes=minutes))
    writer.flush()
    summary = breaker_summary(breaker_states(db, start, now), start, now)[0]
    # OPEN from before the window until 50 min ago (10 min inside it), then again for the last 20 min
    assert summary["state"] == "OPEN" and summary["failure_count"] == 5
    assert summary["open_seconds"] == pytest.approx(30 * 60, abs=1)
    assert len(summary["transitions"]) == 3
