"""Recording CRM API calls: rate-limit headers, the batched writer, the requests and httpx hooks
against a real local HTTP server, circuit-breaker transitions, and the migrations that make the
app's tables."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, inspect, select, text

from dashapp.recording import crm_calls as api_calls
from dashapp.recording import rate_limits
from dashapp.recording.circuit_breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpenError
from dashapp.storage import migrate
from dashapp.storage.app_tables import api_calls as api_calls_table
from dashapp.storage.app_tables import breaker_events
from tests.conftest import call_writer

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("headers", "status", "expected"), [
    ({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "42", "X-RateLimit-Reset": "1795478400"}, 200,
     (100, 42, datetime.fromtimestamp(1795478400, UTC))),
    ({"x-ratelimit-limit": "100", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "30"}, 200,
     (100, 0, NOW + timedelta(seconds=30))),
    ({"RateLimit-Limit": "100, 100;w=60", "RateLimit-Remaining": "7", "RateLimit-Reset": "12"}, 200,
     (100, 7, NOW + timedelta(seconds=12))),
    ({"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "185",
      "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, 200, (190, 185, NOW + timedelta(seconds=10))),
    ({"X-HubSpot-RateLimit-Daily": "250000", "X-HubSpot-RateLimit-Daily-Remaining": "1000"}, 200,
     (250000, 1000, datetime(2026, 11, 24, tzinfo=UTC))),
    ({"Retry-After": "120"}, 429, (None, 0, NOW + timedelta(seconds=120))),
    ({"Retry-After": format_datetime(NOW + timedelta(minutes=5), usegmt=True)}, 429,
     (None, 0, NOW + timedelta(minutes=5))),
    ({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "Retry-After": "9"}, 429,
     (100, 0, NOW + timedelta(seconds=9))),
    # garbage is ignored, never raised
    ({"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": "-3", "X-RateLimit-Reset": "soon"}, 200,
     (None, None, None)),
    ({"X-RateLimit-Limit": "nan", "X-RateLimit-Remaining": "1e99", "X-RateLimit-Reset": "99999999999999999999"}, 200,
     (None, None, None)),
    ({"Retry-After": "next tuesday"}, 429, (None, 0, None)),
    ({"Retry-After": "120"}, 200, (None, None, None)),
    ({}, 200, (None, None, None)),
])
def test_rate_limit_headers(headers, status, expected):
    parsed = rate_limits.parse(headers, status, NOW)
    assert (parsed.limit, parsed.remaining, parsed.reset_at) == expected


def test_headers_that_are_not_a_mapping_are_ignored():
    assert rate_limits.parse(None, 200, NOW).empty  # type: ignore[arg-type]


class Transitions(list):
    def __call__(self, name, crm, from_state, to_state, failures, reason):
        self.append((from_state, to_state, failures))


def test_breaker_opens_cools_down_and_recovers():
    now = [0.0]
    seen = Transitions()
    breaker = CircuitBreaker("hubspot-contacts", "hubspot", failure_threshold=3, reset_timeout=30,
                             clock=lambda: now[0], on_transition=seen)

    def fail():
        raise ConnectionError("read timed out")

    for _ in range(3):
        with pytest.raises(ConnectionError):
            breaker.call(fail)
    assert breaker.state == OPEN and seen == [(CLOSED, OPEN, 3)]
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: "not called")
    now[0] = 31.0
    with pytest.raises(ConnectionError):
        breaker.call(fail)  # the trial fails: back to OPEN
    assert seen[-2:] == [(OPEN, HALF_OPEN, 3), (HALF_OPEN, OPEN, 4)]
    now[0] = 62.0
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.state == CLOSED and seen[-2:] == [(OPEN, HALF_OPEN, 4), (HALF_OPEN, CLOSED, 0)]
    assert breaker.call(lambda: 1) == 1 and len(seen) == 5  # no transition while CLOSED and well


def test_migrations_from_empty_twice(db):
    assert migrate.head() == "0014"
    assert migrate.upgrade(db) == migrate.head()
    assert migrate.upgrade(db) == migrate.head()  # idempotent
    schema = db.get_execution_options().get("app_schema")
    with db.connect() as conn:
        tables = set(inspect(conn).get_table_names(schema=schema))
        expected = {"api_calls", "api_call_minutes", "api_call_hours", "circuit_breaker_events", "failed_operations",
                    "operation_attempts", "audit_log", "alembic_version", "run_hours", "run_days", "duration_days",
                    "error_hours", "rollup_state", "session_generations", "sign_in_attempts", "digests",
                    "digest_deliveries", "health_changes"}
        assert expected <= tables
        if schema:  # never in the user's schema
            assert "api_calls" not in inspect(conn).get_table_names(schema="orchestration")
        if db.dialect.name == "postgresql":  # the rollups' readers' covering indexes (0008)
            indexes = {i["name"] for name in ("run_days", "error_hours")
                       for i in inspect(conn).get_indexes(name, schema=schema)}
            assert {"run_days_counts", "error_hours_sums"} <= indexes


@pytest.fixture
def writer(db):
    yield from call_writer(db, flush_seconds=0.05)


class FakeCrm(BaseHTTPRequestHandler):
    """A CRM API on loopback: /contacts answers with rate-limit headers, /limited with 429s."""

    def do_GET(self):  # noqa: N802 - the http.server interface
        if self.path.startswith("/limited"):
            self.send_response(429)
            self.send_header("Retry-After", "30")
        else:
            self.send_response(200)
            self.send_header("X-RateLimit-Limit", "100")
            self.send_header("X-RateLimit-Remaining", "37")
            self.send_header("X-RateLimit-Reset", "60")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args):
        pass


@pytest.fixture
def crm_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCrm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("client", ["requests", "httpx"])
def test_the_hooks_record_real_calls_with_their_limits(client, writer, db, crm_server):
    http = api_calls.instrumented_session("hubspot") if client == "requests" else \
        api_calls.instrumented_httpx_client("hubspot")
    before = datetime.now(UTC).replace(tzinfo=None)
    for _ in range(3):
        assert http.get(f"{crm_server}/contacts?page=2").status_code == 200
    assert http.get(f"{crm_server}/limited").status_code == 429
    closed = f"http://127.0.0.1:{_closed_port()}/down"
    with pytest.raises(Exception):  # noqa: B017 - each client raises its own connection error
        http.get(closed)
    writer.flush()
    with db.connect() as conn:
        rows = conn.execute(select(api_calls_table).order_by(api_calls_table.c.id)).mappings().all()
    assert [(r["endpoint"], r["status_code"]) for r in rows] == [
        ("/contacts", 200), ("/contacts", 200), ("/contacts", 200), ("/limited", 429), ("/down", None)]
    ok, limited, down = rows[0], rows[3], rows[4]
    assert (ok["crm_source"], ok["method"], ok["rate_limit_limit"], ok["rate_limit_remaining"]) == \
        ("hubspot", "GET", 100, 37)
    assert abs((ok["rate_limit_reset_at"] - ok["called_at"]).total_seconds() - 60) < 1
    assert ok["called_at"] >= before - timedelta(seconds=1) and ok["duration_ms"] > 0
    assert limited["rate_limit_remaining"] == 0 and limited["error"] == "HTTP 429"
    assert abs((limited["rate_limit_reset_at"] - limited["called_at"]).total_seconds() - 30) < 1
    assert down["error"] and "onnect" in down["error"]


def _closed_port() -> int:
    from tests.conftest import closed_port

    return closed_port()


def test_nothing_is_lost_at_shutdown(writer, db):
    for i in range(5000):
        api_calls.record_api_call("callrail", f"/calls/{i % 7}", "get", 200, 1.5)
    api_calls.record_transition("callrail-calls", "callrail", CLOSED, OPEN, 5, "5 failures in a row")
    writer.close()
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(api_calls_table)).scalar_one() == 5000
        event = conn.execute(select(breaker_events)).mappings().one()
    assert (event["breaker"], event["from_state"], event["to_state"], event["failure_count"]) == \
        ("callrail-calls", CLOSED, OPEN, 5)


def test_a_failed_write_keeps_the_calls_for_the_next_flush(writer, db):
    api_calls.record_api_call("arrivy", "/tasks", "GET", 200, 3.0)
    with db.begin() as conn:
        conn.execute(text("ALTER TABLE " + ("sync_monitor." if db.dialect.name == "postgresql" else "")
                          + "api_calls RENAME TO api_calls_away"))
    assert writer.flush() == 0 and writer.failed_batches >= 1
    with db.begin() as conn:
        conn.execute(text("ALTER TABLE " + ("sync_monitor." if db.dialect.name == "postgresql" else "")
                          + "api_calls_away RENAME TO api_calls"))
    assert writer.flush() == 1
