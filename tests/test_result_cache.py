"""The shared result cache: N requests inside the window cost one computation, across processes
through Redis; a Redis that is down falls through to the database without an error."""

from __future__ import annotations

import threading
import time

from dashapp import result_cache
from queries._sql import utc_now
from tests.conftest import closed_port
from tests.rows import edge_case_runs, expected_overview, insert_runs


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
    time.sleep(3.2)  # the window has passed: computed again
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
    result_cache._redis_down_until = 0.0
    started = time.monotonic()
    assert client.get("/api/crm-status").status_code == 200  # Redis refused: computed here, no error
    assert client.get("/api/crm-status").status_code == 200  # ... and not asked again for a while
    assert time.monotonic() - started < 3
    assert result_cache.COMPUTED["crm_status"] - before == 2

    use_engine(pg_engine, CACHE_SECONDS="0")
    client.get("/api/crm-status")
    client.get("/api/crm-status")
    assert result_cache.COMPUTED["crm_status"] - before == 4  # CACHE_SECONDS=0: no cache
