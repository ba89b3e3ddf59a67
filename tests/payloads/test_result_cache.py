"""The shared result cache: N requests inside the window cost one computation, across processes
through Redis; a Redis that is down falls through to the database without an error."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
import redis

from dashapp.payloads import result_cache
from queries.clock import utc_now
from tests.conftest import closed_port
from tests.support.rows import edge_case_runs, expected_overview, insert_runs


def _wait_until_expired(redis_url: str, name: str, timeout: float = 15.0) -> None:
    """Poll until Redis has dropped every cached ``name`` result (its CACHE_SECONDS window is over)."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    deadline = time.monotonic() + timeout
    while list(client.scan_iter(f"{result_cache.PREFIX}{name}:*")):
        assert time.monotonic() < deadline, f"the cached {name} results outlived their window"
        time.sleep(0.1)


@pytest.mark.slow
def test_many_viewers_cost_one_query_per_window_in_redis(dash_app, use_engine, pg_engine, redis_url):
    use_engine(pg_engine, REDIS_URL=redis_url, CACHE_SECONDS="3")
    result_cache.clear()
    runs = insert_runs(pg_engine, edge_case_runs(), utc_now())
    client = dash_app.server.test_client()
    before = result_cache.COMPUTED.get("stats", 0)
    answers: list[dict] = []

    def viewer() -> None:
        answers.append(dash_app.server.test_client().get("/api/stats").json)

    threads = [threading.Thread(target=viewer) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 20 and all(a["overview"] == expected_overview(runs) for a in answers)
    assert result_cache.COMPUTED["stats"] - before == 1  # 20 viewers, one computation

    result_cache.clear()  # another process: nothing in its own memory, the answer is in Redis
    client.get("/api/stats")
    assert result_cache.COMPUTED["stats"] - before == 1
    _wait_until_expired(redis_url, "stats")  # the window has passed: computed again
    client.get("/api/stats")
    assert result_cache.COMPUTED["stats"] - before == 2


def test_without_redis_the_cache_is_per_process_and_a_dead_redis_falls_through(dash_app, use_engine, pg_engine):
    client = dash_app.server.test_client()
    use_engine(pg_engine, CACHE_SECONDS="5")
    result_cache.clear()
    before = result_cache.COMPUTED.get("crm_status", 0)
    assert client.get("/api/crm-status").status_code == 200 and client.get("/api/crm-status").status_code == 200
    assert result_cache.COMPUTED["crm_status"] - before == 1

    use_engine(pg_engine, CACHE_SECONDS="5", REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    result_cache.clear()
    result_cache._redis_down_until.clear()
    started = time.monotonic()
    assert client.get("/api/crm-status").status_code == 200  # Redis refused: computed here, no error
    assert client.get("/api/crm-status").status_code == 200  # ... and not asked again for a while
    assert time.monotonic() - started < 3
    assert result_cache.COMPUTED["crm_status"] - before == 2

    use_engine(pg_engine, CACHE_SECONDS="0")
    client.get("/api/crm-status")
    client.get("/api/crm-status")
    assert result_cache.COMPUTED["crm_status"] - before == 4  # CACHE_SECONDS=0: no cache


def test_a_failed_computation_leaves_no_lock_behind(dash_app, use_engine, pg_engine, redis_url):
    """The database failed for the viewer who held the lock: the next one computes at once."""
    import redis
    from sqlalchemy.exc import OperationalError

    from dashapp import runtime

    use_engine(pg_engine, REDIS_URL=redis_url, CACHE_SECONDS="30")
    result_cache.clear()
    calls: list[int] = []

    @result_cache.shared("flaky")
    def flaky(_engine, n: int) -> dict:
        calls.append(n)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return {"n": n}

    with pytest.raises(OperationalError):
        flaky(runtime.engine(), 1)
    assert redis.Redis.from_url(redis_url).keys(result_cache.PREFIX + "flaky:*") == []  # no lock left
    assert flaky(runtime.engine(), 1) == {"n": 1} and calls == [1, 1]
    assert flaky(runtime.engine(), 1) == {"n": 1} and calls == [1, 1]  # then cached


def _without_now(payload: dict) -> dict:
    """The payload without the window's start and end, which are "now" to the second (and 7 days
    before) and so move between two requests."""
    text = json.dumps({k: v for k, v in payload.items() if k not in ("start", "end")})
    return json.loads(re.sub(r"(start|end)=[0-9T%A-Z.-]+", r"\1=", text))


@pytest.mark.parametrize("path,name", [("/api/performance-charts?days=7", "performance"),
                                       ("/api/errors?days=7", "errors")])
def test_the_performance_and_errors_pages_are_shared_too(dash_app, use_engine, pg_engine, redis_url, path, name):
    """Through Redis and back the answer is the one computed straight from the database."""
    from tests.support.rows import history_runs

    insert_runs(pg_engine, [*edge_case_runs(), *history_runs()], utc_now())
    client = dash_app.server.test_client()
    use_engine(pg_engine, CACHE_SECONDS="0")
    direct = client.get(path).json
    use_engine(pg_engine, REDIS_URL=redis_url, CACHE_SECONDS="30")
    result_cache.clear()
    before = result_cache.COMPUTED.get(name, 0)
    first, second = client.get(path).json, client.get(path).json
    result_cache.clear()  # another process: from Redis
    third = client.get(path).json
    assert result_cache.COMPUTED[name] - before == 1
    for answer in (first, second, third):
        assert _without_now(answer) == _without_now(direct)
    assert direct["sync_duration_trend" if name == "performance" else "error_classes"]  # there is something in it


@pytest.mark.parametrize("through", ["redis", "process"])
def test_dataframes_are_cached_as_frames_and_the_data_inside_is_never_a_marker(use_engine, pg_engine, redis_url,
                                                                            through):
    """A payload returns its DataFrames as they are; every reader, the computing one included, gets
    the same frame back, whatever the warehouse's text holds (a value shaped like the cache's own
    record stays text)."""
    import pandas as pd

    use_engine(pg_engine, REDIS_URL=redis_url if through == "redis" else "", CACHE_SECONDS="30")
    result_cache.clear()
    name = f"frames_{through}_{time.monotonic_ns()}"
    forged = {"value": {"columns": ["x"], "data": [[1]]}, "frames": [[]], "__dataframe__": {"columns": []}}
    frame = pd.DataFrame({"day": ["2026-11-30", "2026-12-01"], "runs": [3, 4], "p50": [1.5, None],
                          "note": [json.dumps(forged), "line\r\nbreak"]})
    calls = []

    @result_cache.shared(name)
    def payload(engine, key: str) -> dict:
        calls.append(key)
        return {"frames": {"runs": frame}, "config": forged, "rows": [frame.head(1)]}

    first, second = payload(pg_engine, "a"), payload(pg_engine, "a")
    assert calls == ["a"]  # the second reader got the cached copy
    for answer in (first, second):
        got = answer["frames"]["runs"]
        assert isinstance(got, pd.DataFrame) and list(got.columns) == ["day", "runs", "p50", "note"]
        assert got["runs"].tolist() == [3, 4] and got["p50"].iloc[0] == 1.5 and pd.isna(got["p50"].iloc[1])
        assert got["note"].tolist() == frame["note"].tolist()
        assert answer["config"] == forged  # the warehouse's look-alike stays a plain value
        assert isinstance(answer["rows"][0], pd.DataFrame) and answer["rows"][0]["runs"].tolist() == [3]


def test_a_moment_in_the_past_keys_its_own_answer(dash_app, use_engine, pg_engine, redis_url):
    """Live viewers share one answer whatever their ``now``; a view as of an earlier moment (``at``)
    is another answer, cached under that moment, and never handed to a live viewer."""
    from datetime import timedelta

    from dashapp.payloads import overview

    use_engine(pg_engine, REDIS_URL=redis_url, CACHE_SECONDS="30")
    result_cache.clear()
    now = utc_now()
    runs = insert_runs(pg_engine, edge_case_runs(), now)
    before = result_cache.COMPUTED.get("stats", 0)
    live = overview.stats(pg_engine, now)["overview"]
    assert overview.stats(pg_engine, utc_now())["overview"] == live == expected_overview(runs)
    assert result_cache.COMPUTED["stats"] - before == 1
    earlier = now - timedelta(hours=30)
    past = overview.stats(pg_engine, earlier)
    assert result_cache.COMPUTED["stats"] - before == 2  # not the live answer
    assert past["timestamp"] == overview.stats(pg_engine, earlier)["timestamp"]
    assert result_cache.COMPUTED["stats"] - before == 2  # the same moment again: its own cached answer
    assert overview.stats(pg_engine, utc_now())["overview"] == live
    assert result_cache.COMPUTED["stats"] - before == 2
