"""Recording CRM API calls from sync code, without slowing it down.

    from dashapp.recording.crm_calls import record_api_call, instrumented_session, instrumented_httpx_client

    record_api_call("hubspot", "/crm/v3/objects/contacts", "GET", 200, 182.5, headers=response.headers)
    session = instrumented_session("hubspot")          # requests: every call recorded by itself
    client = instrumented_httpx_client("callrail")     # httpx: the same

The call site only appends to a queue (a few microseconds); a writer thread parses the rate-limit
headers and inserts in batches, every ``flush_seconds`` or ``batch_size`` calls, and flushes what
is left when the process exits. Circuit-breaker transitions go through the same writer.
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from dashapp.recording import rate_limits
from dashapp.recording.run_context import current_run_id
from queries import crm_call_writes

log = logging.getLogger(__name__)


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).replace(tzinfo=None)


class Writer:
    """Batches rows for the app's tables on a background thread."""

    def __init__(self, engine: Engine, flush_seconds: float = 0.5, batch_size: int = 1000,
                 max_queued: int = 1_000_000) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.batch_size = batch_size
        self._calls: collections.deque = collections.deque(maxlen=max_queued)
        self._events: collections.deque = collections.deque(maxlen=max_queued)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._flush_lock = threading.Lock()
        self.written = 0
        self.failed_batches = 0
        self._thread = threading.Thread(target=self._run, name="api-call-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def add_call(self, row: tuple) -> None:
        self._calls.append(row)
        if len(self._calls) >= self.batch_size:
            self._wake.set()

    def add_event(self, row: dict) -> None:
        self._events.append(row)
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write everything queued now; returns how many rows were written."""
        with self._flush_lock:
            written = 0
            while self._calls or self._events:
                raws = [self._calls.popleft() for _ in range(min(self.batch_size, len(self._calls)))]
                events = [self._events.popleft() for _ in range(min(self.batch_size, len(self._events)))]
                try:
                    crm_call_writes.write_batch(self.engine, [_call_row(raw) for raw in raws], events)
                except Exception as exc:  # noqa: BLE001 - keep the rows for the next try
                    self.failed_batches += 1
                    log.warning("could not write %d API calls: %s", len(raws) + len(events), exc)
                    self._calls.extendleft(reversed(raws))
                    self._events.extendleft(reversed(events))
                    return written
                calls = raws
                written += len(calls) + len(events)
            self.written += written
            return written

    def close(self) -> None:
        """Stop the thread and write what is left (also run at process exit)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()


_FIELDS = ("called_at", "crm_source", "endpoint", "method", "status_code", "duration_ms", "retries", "error",
           "headers", "sync_run_id")


def _call_row(raw: tuple) -> dict:
    """A queued call as a table row; the rate-limit headers are read here, off the caller's thread."""
    row = dict(zip(_FIELDS, raw, strict=True))
    headers = row.pop("headers")
    limit = rate_limits.parse(headers, row["status_code"], row["called_at"]) if headers else rate_limits.RateLimit()
    row.update(called_at=_naive_utc(row["called_at"]), rate_limit_limit=limit.limit,
               rate_limit_remaining=limit.remaining, rate_limit_reset_at=_naive_utc(limit.reset_at))
    return row


_writer: Writer | None = None
_writer_lock = threading.Lock()


def writer() -> Writer:
    """The process's writer, on the app's database (the recorder's default engine)."""
    global _writer
    with _writer_lock:
        if _writer is None:
            from dashapp.recording.recorder import default_engine
            from queries._sql import app_db

            _writer = Writer(app_db(default_engine()))  # type: ignore[arg-type]
        return _writer


def use_writer(new: Writer | None) -> None:
    global _writer
    with _writer_lock:
        _writer = new


def record_api_call(crm_source: str, endpoint: str, method: str, status_code: int | None, duration_ms: float,
                    *, retries: int = 0, error: str | None = None, headers: Mapping[str, str] | None = None,
                    called_at: datetime | None = None) -> None:
    """Record one call (a queue append; the database write happens in batches elsewhere). Inside
    ``record_sync`` the call carries the run's id (``dashapp.recording.run_context``); outside, NULL."""
    (_writer or writer()).add_call((
        called_at or datetime.now(UTC), crm_source, endpoint[:200], method.upper()[:10], status_code,
        float(duration_ms), retries, error, dict(headers) if headers else None, current_run_id.get(),
    ))


def record_transition(breaker: str, crm_source: str, from_state: str, to_state: str, failure_count: int,
                      reason: str | None, at: datetime | None = None) -> None:
    (_writer or writer()).add_event({
        "occurred_at": _naive_utc(at or datetime.now(UTC)), "breaker": breaker, "crm_source": crm_source,
        "from_state": from_state, "to_state": to_state, "failure_count": failure_count, "reason": reason,
        "sync_run_id": current_run_id.get(),
    })


def _timed(crm_source: str, path: str, method: str, failure: type[Exception], send: Any) -> Any:
    """Make one HTTP call through ``send()`` and record it: its status, time and rate-limit
    headers, or the exception (of the client's ``failure`` type) when no response came."""
    started = time.perf_counter()
    try:
        response = send()
    except failure as exc:
        record_api_call(crm_source, path or "/", method, None, (time.perf_counter() - started) * 1000,
                        error=f"{type(exc).__name__}: {exc}")
        raise
    record_api_call(crm_source, path or "/", method, response.status_code, (time.perf_counter() - started) * 1000,
                    headers=response.headers,
                    error=None if response.status_code < 400 else f"HTTP {response.status_code}")
    return response


def instrumented_session(crm_source: str):
    """A ``requests.Session`` that records every call it makes, failures included."""
    import requests

    class InstrumentedSession(requests.Session):
        def send(self, request: Any, **kwargs: Any):  # type: ignore[override]
            return _timed(crm_source, urlsplit(request.url).path, request.method, requests.RequestException,
                          lambda: super(InstrumentedSession, self).send(request, **kwargs))

    return InstrumentedSession()


def instrumented_httpx_client(crm_source: str, **client_options: Any):
    """An ``httpx.Client`` whose transport records every call, failures included."""
    import httpx

    inner = client_options.pop("transport", None) or httpx.HTTPTransport()

    class RecordingTransport(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return _timed(crm_source, request.url.path, request.method, httpx.HTTPError,
                          lambda: inner.handle_request(request))

        def close(self) -> None:
            inner.close()

    return httpx.Client(transport=RecordingTransport(), **client_options)
