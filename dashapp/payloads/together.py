"""Independent reads of one answer sent to PostgreSQL together, so a payload that needs several
heavy statements (the timeline's incidents, late spans and 429 bursts) waits for the slowest, not
their sum: each runs on its own pooled connection, in a backend of its own.

At most ``WORKERS`` reads run in extra threads at once in a process, whatever the number of
requests; a read that finds no free slot runs in the calling thread, so a busy process never waits
for a slot (nor opens more connections than its requests and ``WORKERS``). The threads live only
as long as their read. SQLite (the embedded demo, one file) reads them one after another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

WORKERS = 4
_SLOTS = threading.BoundedSemaphore(WORKERS)


class _Beside(threading.Thread):
    """One read in a thread of its own, holding a slot until it ends."""

    def __init__(self, read: Callable[[], Any]) -> None:
        super().__init__(name="read-beside", daemon=True)
        self.read = read
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.read()
        except BaseException as exc:  # handed to the caller, raised there
            self.error = exc
        finally:
            _SLOTS.release()

    def outcome(self) -> Any:
        self.join()
        if self.error is not None:
            raise self.error
        return self.result


def _start(read: Callable[[], Any]) -> _Beside | None:
    """``read`` started in a thread when a slot is free; else None (the caller runs it)."""
    if not _SLOTS.acquire(blocking=False):
        return None
    thread = _Beside(read)
    thread.start()
    return thread


def read_together(engine: Engine, reads: Sequence[Callable[[], Any]]) -> list[Any]:
    """Each read's result, in order; a read that raised raises here once all have ended."""
    if engine.dialect.name != "postgresql" or len(reads) < 2:
        return [read() for read in reads]
    beside = [None, *(_start(read) for read in reads[1:])]
    results: list[Any] = []
    failure: BaseException | None = None
    for read, thread in zip(reads, beside, strict=True):
        try:
            results.append(read() if thread is None else thread.outcome())
        except BaseException as exc:  # the others still end before it is raised
            failure = failure or exc
            results.append(None)
    if failure is not None:
        raise failure
    return results


def read_beside(engine: Engine, leaf: Callable[[], Any], main: Callable[[], Any]) -> tuple[Any, Any]:
    """(``leaf()``, ``main()``): ``leaf`` in a thread of its own (when a slot is free) while ``main``
    (which may use ``read_together``) runs in the calling thread."""
    if engine.dialect.name != "postgresql":
        return leaf(), main()
    thread = _start(leaf)
    try:
        found = main()
    finally:
        if thread is not None:
            thread.join()
    return (leaf() if thread is None else thread.outcome()), found
