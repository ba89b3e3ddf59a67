"""What sync code imports, in one module: ``from dashapp.recording import record_sync, ...``.

- runs: ``record_sync`` (a context manager around one run), ``start_sync`` and ``resume_sync`` (a run
  started in one task and finished in another), ``close_abandoned``;
- calls to a CRM's API: ``record_api_call``, ``instrumented_session`` (requests),
  ``instrumented_httpx_client`` (httpx), ``crm_call_writer`` (the batched writer, to flush);
- ``CircuitBreaker`` / ``CircuitOpenError``, whose transitions are recorded;
- ``parse_rate_limit``: the rate-limit headers of a response;
- ``run_in_context`` / ``ContextThreadPoolExecutor``: carry the run's id into threads;
- ``handler``: register the function ``sync_monitor.retry_sync`` calls for a (CRM, sync type).

The modules behind it (``recorder``, ``crm_calls``, ``circuit_breaker``, ``rate_limits``,
``run_context``, ``retry_handlers``) import each other directly, never this module.
"""

from dashapp.recording.circuit_breaker import CircuitBreaker, CircuitOpenError
from dashapp.recording.crm_calls import (
    instrumented_httpx_client,
    instrumented_session,
    record_api_call,
    record_transition,
)
from dashapp.recording.crm_calls import writer as crm_call_writer
from dashapp.recording.rate_limits import RateLimit
from dashapp.recording.rate_limits import parse as parse_rate_limit
from dashapp.recording.recorder import SyncRun, close_abandoned, record_sync, resume_sync, start_sync
from dashapp.recording.retry_handlers import handler
from dashapp.recording.run_context import ContextThreadPoolExecutor, run_id, run_in_context

__all__ = [
    "CircuitBreaker", "CircuitOpenError", "ContextThreadPoolExecutor", "RateLimit", "SyncRun", "close_abandoned",
    "crm_call_writer", "handler", "instrumented_httpx_client", "instrumented_session", "parse_rate_limit",
    "record_api_call", "record_sync", "record_transition", "resume_sync", "run_id", "run_in_context", "start_sync",
]
