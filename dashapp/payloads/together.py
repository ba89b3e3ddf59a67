"""Independent reads of one answer sent to PostgreSQL together, so a payload that needs several
heavy statements (the timeline's incidents, late spans and 429 bursts) waits for the slowest, not
their sum: each runs on its own pooled connection, in a backend of its own.

One bounded pool per process (``WORKERS`` threads) serves every request, so N requests never open
more than ``WORKERS`` extra connections. Its tasks are leaves: a task never waits on another task,
so the pool cannot deadlock. SQLite (the embedded demo, one file) reads them one after another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import Engine

WORKERS = 4
_POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="reads-together")


def read_together(engine: Engine, reads: Sequence[Callable[[], Any]]) -> list[Any]:
    """Each read's result, in order; the first read that raised raises here (after all ended)."""
    if engine.dialect.name != "postgresql" or len(reads) < 2:
        return [read() for read in reads]
    futures = [_POOL.submit(read) for read in reads]
    wait(futures)
    return [future.result() for future in futures]


def read_beside(engine: Engine, leaf: Callable[[], Any], main: Callable[[], Any]) -> tuple[Any, Any]:
    """(``leaf()``, ``main()``): ``leaf`` (which must not use this pool) in the pool while ``main``
    (which may: ``read_together``) runs in the calling thread."""
    if engine.dialect.name != "postgresql":
        return leaf(), main()
    future = _POOL.submit(leaf)
    try:
        found = main()
    finally:
        wait([future])
    return future.result(), found
