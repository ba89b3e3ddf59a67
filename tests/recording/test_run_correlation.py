"""Correlation at the source: API calls and breaker transitions made inside ``record_sync`` carry
the run's id (in the run's own thread and in threads it starts through dashapp.recording.run_context), and
calls outside a run carry NULL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from dashapp.recording import crm_calls as api_calls
from dashapp.recording.circuit_breaker import CircuitBreaker
from dashapp.recording.recorder import record_sync
from dashapp.recording.run_context import ContextThreadPoolExecutor, run_id, run_in_context
from dashapp.storage.app_tables import api_calls as api_calls_table
from dashapp.storage.app_tables import breaker_events
from tests.conftest import call_writer


@pytest.fixture
def writer(db):
    yield from call_writer(db)


def _calls(db) -> dict[str, int | None]:
    with db.connect() as conn:
        rows = conn.execute(select(api_calls_table.c.endpoint, api_calls_table.c.sync_run_id)).all()
    return {endpoint: run for endpoint, run in rows}


def test_calls_inside_a_run_and_its_threads_are_correlated_and_others_not(db, writer):
    api_calls.record_api_call("hubspot", "/before", "GET", 200, 5.0)
    with record_sync("hubspot", "contacts", db=db) as run:
        api_calls.record_api_call("hubspot", "/same-thread", "GET", 200, 5.0)
        with ContextThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda n: api_calls.record_api_call("hubspot", f"/pool-{n}", "GET", 429, 5.0), range(2)))
        thread = threading.Thread(target=run_in_context(
            lambda: api_calls.record_api_call("hubspot", "/thread", "GET", 200, 5.0)))
        thread.start()
        thread.join()
        bare = threading.Thread(target=lambda: api_calls.record_api_call("hubspot", "/bare-thread", "GET", 200, 5.0))
        bare.start()
        bare.join()
    api_calls.record_api_call("hubspot", "/after", "GET", 200, 5.0)
    assert run_id() is None
    writer.flush()
    assert run.id is not None
    assert _calls(db) == {"/before": None, "/same-thread": run.id, "/pool-0": run.id, "/pool-1": run.id,
                          "/thread": run.id, "/bare-thread": None, "/after": None}


def test_a_failed_run_correlates_its_breaker_and_nested_runs_restore_the_outer_id(db, writer):
    breaker = CircuitBreaker("callrail-calls", "callrail", failure_threshold=2, reset_timeout=60)
    with pytest.raises(ConnectionError), record_sync("callrail", "calls", db=db) as outer:
        with record_sync("callrail", "accounts", db=db) as inner:
            api_calls.record_api_call("callrail", "/inner", "GET", 200, 1.0)
        api_calls.record_api_call("callrail", "/outer", "GET", 503, 1.0)
        for _ in range(2):
            with pytest.raises(ConnectionError), breaker:
                raise ConnectionError("HTTP 503")
        raise ConnectionError("gave up")
    with breaker.__class__("callrail-other", "callrail", failure_threshold=1):
        pass
    writer.flush()
    assert _calls(db) == {"/inner": inner.id, "/outer": outer.id}
    with db.connect() as conn:
        events = conn.execute(select(breaker_events.c.to_state, breaker_events.c.sync_run_id)).all()
    assert [tuple(e) for e in events] == [("OPEN", outer.id)]
    assert run_id() is None
