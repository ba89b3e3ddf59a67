"""Which sync run the current code belongs to: a context variable ``record_sync`` sets for its
block, read by ``record_api_call``, the instrumented HTTP clients and breaker transitions, which
store it with each row (``sync_run_id``), so a run's page can list the calls it made.

A thread started inside the block does not see the variable by itself (a new thread starts with
an empty context). Carry it over:

    from dashapp.recording.run_context import ContextThreadPoolExecutor, run_in_context

    with record_sync("hubspot", "contacts") as run:
        with ContextThreadPoolExecutor(max_workers=4) as pool:      # every task runs in the run's context
            pages = list(pool.map(fetch_page, page_numbers))
        threading.Thread(target=run_in_context(fetch_owners)).start()  # one function, one thread
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

current_run_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("sync_run_id", default=None)


def run_id() -> int | None:
    """The id of the run the caller is inside (``record_sync``), or None."""
    return current_run_id.get()


def run_in_context(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` bound to a copy of the caller's context (taken now), for another thread."""
    context = contextvars.copy_context()

    def bound(*args: Any, **kwargs: Any) -> T:
        return context.run(function, *args, **kwargs)

    return bound


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run in the context of the code that submitted them."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:  # type: ignore[override]
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
