"""The API production sync code calls to record its runs: the only writer of sync_history.

    from dashapp.recording import record_sync

    with record_sync("hubspot", "contacts", endpoint="/crm/v3/objects/contacts") as run:
        for batch in pages():
            ...
            run.add(processed=len(batch), created=c, updated=u, failed=f)
        if rejected:
            run.mark_partial(f"{rejected} records rejected by the warehouse")

Entering writes a ``running`` row. Counts accumulate in memory and are written at least every
``flush_seconds`` while the run lasts (and on ``run.flush()``), so the overview shows progress.
Leaving closes the row as ``success``; as ``partial`` when asked; or as ``failed`` with the
exception's message, and the exception propagates unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from dashapp.recording.run_context import current_run_id
from queries import sync_run_writes
from queries._sql import bind_time, connect
from queries.clock import utc_now
from queries.outcomes import raw_values as status_values

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
_default_engine: Engine | None = None


def set_default_engine(engine: Engine | None) -> None:
    """The engine ``record_sync`` uses when none is passed (the app sets it at start)."""
    global _default_engine
    _default_engine = engine


def default_engine() -> Engine:
    global _default_engine
    if _default_engine is None:
        from dashapp.config import load_settings
        from dashapp.storage.db import make_engine

        _default_engine = make_engine(load_settings())
    return _default_engine


class SyncRun:
    """One open run. Use ``add``, ``mark_partial``, ``metrics`` and ``flush`` inside the block."""

    def __init__(self, db: Engine | Connection, clock: Clock, flush_seconds: float) -> None:
        self.id: int | None = None
        self.processed = self.created = self.updated = self.failed = 0
        self.metrics: dict[str, Any] = {}
        self.started_at: datetime | None = None
        self._partial_reason: str | None = None
        self._partial = False
        self._db = db
        self._clock = clock
        self._flush_seconds = flush_seconds
        self._flushed_at: datetime | None = None

    def add(self, processed: int = 0, created: int = 0, updated: int = 0, failed: int = 0) -> None:
        self.processed += processed
        self.created += created
        self.updated += updated
        self.failed += failed
        now = self._clock()
        if self._flushed_at is None or (now - self._flushed_at).total_seconds() >= self._flush_seconds:
            self.flush()

    def mark_partial(self, reason: str | None = None) -> None:
        """Close the run as ``partial`` (some records failed); ``reason`` goes to error_message."""
        self._partial = True
        self._partial_reason = reason

    @property
    def is_partial(self) -> bool:
        return self._partial

    @property
    def partial_reason(self) -> str | None:
        return self._partial_reason

    def flush(self) -> None:
        """Write the counts so far to the open row, with the time it was last seen alive
        (``performance_metrics.last_seen_at``: where ``close_abandoned`` ends a run that died)."""
        now = self._clock()
        self._write({**self._counts(), "performance_metrics": {**self.metrics, LAST_SEEN: _iso(now)}})
        self._flushed_at = now

    def _counts(self) -> dict[str, int]:
        return {
            "records_processed": self.processed,
            "records_created": self.created,
            "records_updated": self.updated,
            "records_failed": self.failed,
        }

    def _open(self, values: dict[str, Any]) -> None:
        with connect(self._db) as conn:
            self.started_at = self._clock()
            started = bind_time(conn, self.started_at)
            self.id = sync_run_writes.insert_run(conn, {
                **values, "start_time": started, "created_at": started, "status": "running", **self._counts()
            })
            _commit(conn, self._db)
        self._flushed_at = self.started_at

    def _close(self, status: str, error: str | None) -> None:
        ended = self._clock()
        seconds = max((ended - self.started_at).total_seconds(), 0.0) if self.started_at else 0.0
        metrics = {"duration_seconds": round(seconds, 3), **self.metrics}
        if seconds > 0:
            metrics.setdefault("records_per_second", round(self.processed / seconds, 3))
        self._write({
            **self._counts(),
            "status": status,
            "end_time": bind_time(self._db, ended),
            "error_message": error,
            "performance_metrics": metrics,
        })

    def _write(self, values: dict[str, Any]) -> None:
        with connect(self._db) as conn:
            sync_run_writes.update_run(conn, self.id, values)
            _commit(conn, self._db)


def _commit(conn: Connection, db: Engine | Connection) -> None:
    if db is not conn:  # an engine: our own connection, our own transaction
        conn.commit()


LAST_SEEN = "last_seen_at"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _last_seen(metrics: object, started: datetime | None) -> datetime | None:
    """``performance_metrics.last_seen_at`` of a run (JSON text or a dict), if it is a time after its start."""
    if isinstance(metrics, str):
        try:
            metrics = json.loads(metrics)
        except ValueError:
            return None
    raw = metrics.get(LAST_SEEN) if isinstance(metrics, dict) else None
    try:
        seen = datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None
    if seen is None or seen.tzinfo is None:
        return None
    if started is not None and seen < (started if started.tzinfo else started.replace(tzinfo=UTC)):
        return None
    return seen


def close_abandoned(db: Engine | Connection, started_before: datetime, reason: str, clock: Clock = utc_now) -> int:
    """Close as ``failed`` the runs still running (status class running, aliases included) that
    started before ``started_before``: what a sync worker calls at start for the runs its previous
    life left open. Each gets an ``end_time``: the last time it was seen alive (its last flush),
    else now, so it counts among the failures of its window. Returns how many."""
    running = status_values(db, "running")
    closed = 0
    with connect(db) as conn:
        rows = sync_run_writes.open_runs_started_before(conn, running, bind_time(conn, started_before))
        now = clock()
        for run_id, started, metrics in rows:
            start = started.astimezone(UTC) if getattr(started, "tzinfo", None) else None
            ended = _last_seen(metrics, start) or now
            closed += sync_run_writes.close_open_run(conn, run_id, running, reason, bind_time(conn, ended))
        _commit(conn, db)
    return closed


def start_sync(
    crm_source: str,
    sync_type: str,
    *,
    endpoint: str | None = None,
    configuration: dict[str, Any] | None = None,
    db: Engine | Connection | None = None,
    clock: Clock = utc_now,
) -> SyncRun:
    """Open a run (its ``running`` row) that another task finishes: a sync split into a task that
    starts it and one that ends it (``resume_sync(run.id, run.started_at)``), so no worker slot is
    held while it waits on something else."""
    run = SyncRun(db if db is not None else default_engine(), clock, 5.0)
    run._open({
        "crm_source": crm_source,
        "sync_type": sync_type,
        "endpoint": endpoint,
        "configuration": configuration or {},
        "performance_metrics": {},
    })
    return run


@contextmanager
def resume_sync(run_id: int, started_at: datetime, *, db: Engine | Connection | None = None,
                clock: Clock = utc_now, flush_seconds: float = 5.0) -> Iterator[SyncRun]:
    """The rest of a run ``start_sync`` opened, closed as ``record_sync`` closes its block."""
    run = SyncRun(db if db is not None else default_engine(), clock, flush_seconds)
    run.id, run.started_at, run._flushed_at = run_id, started_at, None
    with _closing(run):
        yield run


@contextmanager
def record_sync(
    crm_source: str,
    sync_type: str,
    *,
    endpoint: str | None = None,
    configuration: dict[str, Any] | None = None,
    db: Engine | Connection | None = None,
    clock: Clock = utc_now,
    flush_seconds: float = 5.0,
) -> Iterator[SyncRun]:
    """Record one sync run around the block; see the module docstring.

    ``db`` defaults to the app's database (``DATABASE_URL``, else the embedded demo). A
    Connection is written on as it is and the caller commits; an Engine commits each write.
    ``clock`` returns aware UTC datetimes; the demo passes a simulated one to backfill history.
    """
    run = start_sync(crm_source, sync_type, endpoint=endpoint, configuration=configuration, db=db, clock=clock)
    run._flush_seconds = flush_seconds
    with _closing(run):
        yield run


@contextmanager
def _closing(run: SyncRun) -> Iterator[SyncRun]:
    """Close ``run`` when the block ends: success, partial when asked, failed with the exception."""
    token = current_run_id.set(run.id)  # API calls and breaker transitions in the block name this run
    try:
        yield run
    except BaseException as exc:
        current_run_id.reset(token)
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        try:
            run._close("failed", message)
        except Exception:  # never hide the sync's own error behind the recorder's
            log.exception("could not close sync run %s as failed", run.id)
        raise
    current_run_id.reset(token)
    if run._partial:
        run._close("partial", run._partial_reason)
    else:
        run._close("success", None)
