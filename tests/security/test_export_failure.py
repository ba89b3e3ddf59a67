"""An export whose database fails is never an empty or short file that looks complete.
Before the first byte it is a 503; after it, the stream ends without its final chunk (the client
sees a truncated download) and the log says so."""

from __future__ import annotations

import http.client
import logging
import threading
import time

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from dashapp.storage.db import postgres_engine

PORT = 18431


@pytest.fixture
def timing_out_engine(postgres_url):
    engine = postgres_engine(postgres_url, "orchestration", db_statement_timeout_seconds=1)
    yield engine
    engine.dispose()


def test_a_copy_that_fails_before_the_first_byte_is_a_503(dash_app, use_engine, pg_engine, timing_out_engine):
    use_engine(timing_out_engine)
    with pg_engine.connect() as locker:
        locker.execute(text("LOCK TABLE orchestration.sync_history IN ACCESS EXCLUSIVE MODE"))
        answer = dash_app.server.test_client().get("/export/sync-history.csv?range=all")
        locker.rollback()
    assert answer.status_code == 503, answer.get_data(as_text=True)[:200]
    assert "statement timeout" in answer.json["error"]


def many_runs(engine, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO orchestration.sync_history (crm_source, sync_type, status, start_time, end_time, "
            "records_processed, error_message) SELECT 'bulk', 'contacts', 'failed', now() - n * interval '1 second', "
            "now() - n * interval '1 second' + interval '1 second', n, repeat('x', 200) FROM generate_series(1, :n) n"),
            {"n": count})


@pytest.fixture
def served(dash_app):
    server = make_server("127.0.0.1", PORT, dash_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{PORT}"
    server.shutdown()


@pytest.mark.slow
def test_a_copy_that_fails_midway_ends_the_stream_unfinished(use_engine, pg_engine, served, caplog):
    use_engine(pg_engine)
    many_runs(pg_engine, 200_000)
    connection = http.client.HTTPConnection(served, timeout=30)
    with caplog.at_level(logging.ERROR):
        connection.request("GET", "/export/sync-history.csv?range=all")
        response = connection.getresponse()
        assert response.status == 200
        first = response.read(64 * 1024)
        assert first.startswith(b"id,crm_source")
        with pg_engine.connect() as conn:
            killed = conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'COPY (SELECT%' AND datname = current_database()")).fetchall()
        assert killed, "the COPY was not running"
        with pytest.raises(http.client.IncompleteRead):
            response.read()
        deadline = time.monotonic() + 5
        while "export sync-history" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    connection.close()
    assert "stopped after" in caplog.text
