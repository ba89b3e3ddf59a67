"""A worker reads one day of the performance and errors pages before it serves (dashapp.startup.warm_up):
its first real request then finds a database connection open and the code behind the pages loaded,
and costs what any other does; the answers are the same."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from dashapp.payloads import day_cache as day_cache_payloads
from dashapp.payloads import performance as performance_payloads
from dashapp.startup import warm_up
from dashapp.storage.db import postgres_engine
from queries.clock import utc_now
from tests.conftest import closed_port
from tests.support.rows import history_runs, insert_runs


def connections_opened(engine, action) -> int:
    opened: list[object] = []
    event.listen(engine, "connect", lambda dbapi, record: opened.append(dbapi))
    action()
    return len(opened)


def test_after_the_warm_up_a_first_request_opens_no_connection(postgres_url, pg_engine):
    now = utc_now()
    runs = insert_runs(pg_engine, history_runs(), now)
    engine = postgres_engine(postgres_url, "orchestration")  # a worker's engine, never used yet
    try:
        assert connections_opened(engine, lambda: warm_up(engine)) >= 1
        day_cache_payloads.DAYS.clear()
        frames: dict = {}
        read = performance_payloads.performance_frames
        assert connections_opened(engine, lambda: frames.update(read(engine, now - timedelta(days=7), now))) == 0
    finally:
        engine.dispose()
    week = [r for r in runs if timedelta(0) < r.start_ago <= timedelta(days=7)]
    assert int(frames["runs_per_day"]["runs"].sum()) == len(week)


def test_a_database_that_does_not_answer_does_not_stop_the_start():
    engine = postgres_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{closed_port()}/none", "orchestration")
    warm_up(engine)  # logged and left to the first request, which reports it on the page
    with pytest.raises(OperationalError, match="connect|refused"):
        performance_payloads.performance_frames(engine, utc_now() - timedelta(days=1), utc_now())
    engine.dispose()

