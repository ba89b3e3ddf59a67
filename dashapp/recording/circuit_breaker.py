"""A circuit breaker for CRM API calls that records every transition.

    breaker = CircuitBreaker("hubspot-contacts", "hubspot", failure_threshold=5, reset_timeout=30)
    with breaker:                 # raises CircuitOpenError while OPEN
        response = session.get(url)
        response.raise_for_status()

CLOSED -> OPEN after ``failure_threshold`` failures in a row; OPEN -> HALF_OPEN once
``reset_timeout`` seconds have passed (the next call is a trial); HALF_OPEN -> CLOSED on its
success, back to OPEN on its failure. Each transition goes to ``dashapp.recording.crm_calls.record_transition``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dashapp.recording import crm_calls as api_calls

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"


class CircuitOpenError(RuntimeError):
    """The breaker is OPEN: the call was not made."""


class CircuitBreaker:
    def __init__(self, name: str, crm_source: str, failure_threshold: int = 5, reset_timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_transition: Callable[..., None] = api_calls.record_transition) -> None:
        self.name = name
        self.crm_source = crm_source
        self.failure_threshold = max(1, failure_threshold)
        self.reset_timeout = reset_timeout
        self.state = CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._clock = clock
        self._on_transition = on_transition
        self._lock = threading.Lock()

    def _move(self, to_state: str, reason: str) -> None:
        from_state, self.state = self.state, to_state
        if to_state == OPEN:
            self._opened_at = self._clock()
        self._on_transition(self.name, self.crm_source, from_state, to_state, self.failures, reason)

    def __enter__(self) -> CircuitBreaker:
        with self._lock:
            if self.state == OPEN:
                waited = self._clock() - self._opened_at
                if waited < self.reset_timeout:
                    raise CircuitOpenError(f"{self.name} is OPEN for {self.reset_timeout - waited:.0f} s more")
                self._move(HALF_OPEN, f"cool-down of {self.reset_timeout:.0f} s over: one trial call")
        return self

    def __exit__(self, exc_type, exc, _tb) -> bool:
        with self._lock:
            if exc_type is None:
                if self.state == HALF_OPEN:
                    self.failures = 0
                    self._move(CLOSED, "trial call succeeded")
                self.failures = 0
                return False
            self.failures += 1
            reason = f"{exc_type.__name__}: {exc}"[:500]
            if self.state == HALF_OPEN:
                self._move(OPEN, f"trial call failed: {reason}")
            elif self.state == CLOSED and self.failures >= self.failure_threshold:
                self._move(OPEN, f"{self.failures} failures in a row, last: {reason}")
        return False

    def call(self, function: Callable, *args, **kwargs):
        with self:
            return function(*args, **kwargs)
