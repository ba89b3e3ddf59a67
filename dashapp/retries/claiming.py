"""Retrying failed operations: the one function the page's callbacks and the API call.

``retry`` takes sync ids (failed or partial runs), records each as a failed operation the first
time, and claims those in state ``failed`` below the attempt cap with one conditional UPDATE:
``queued``, attempts + 1. Only the claims are sent to Celery, so a double click or two operators
at once enqueue an operation once (the second finds it ``queued``). An operation queued or running
for longer than RETRY_STALE_MINUTES (its message lost, its worker killed) may be claimed again; a
late message of the older attempt is then ignored by ``retry_tracking``. An operation at the cap
becomes ``abandoned``. If the broker refuses, the claims it did not take go back to ``failed``
with the broker's error, and nothing counts as an attempt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dashapp.config import Settings
from dashapp.retries import broker as retry_queue
from dashapp.retries.task_ids import task_id_for
from dashapp.storage.app_tables import failed_operations as operations
from dashapp.storage.app_tables import operation_attempts as attempts
from queries import failed_operations as queries
from queries._sql import app_db, utc_now


@dataclass
class RetryResult:
    requested: int
    queued: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # sync id -> why it was not queued
    error: str | None = None  # the broker's refusal

    @property
    def result(self) -> str:
        """For the audit: ok (all queued), partial, none (nothing to queue) or failed (broker)."""
        if self.error:
            return "failed"
        if not self.queued:
            return "none"
        return "ok" if not self.skipped else "partial"

    def summary(self) -> str:
        parts = [f"{len(self.queued)} of {self.requested} queued"]
        reasons: dict[str, int] = {}
        for why in self.skipped.values():
            reasons[why] = reasons.get(why, 0) + 1
        parts += [f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda item: -item[1])]
        if self.error:
            parts.append(self.error)
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {"requested": self.requested, "queued": self.queued, "result": self.result,
                "skipped": [{"id": i, "reason": why} for i, why in self.skipped.items()],
                "error": self.error, "summary": self.summary()}


def _payload(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return json.dumps({"configuration": value})
    return json.dumps(value if isinstance(value, dict) else {})


def _insert_ignoring_duplicates(conn: Connection):
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(operations)


def _record(conn: Connection, runs: pd.DataFrame, now) -> set[int]:
    """Give every failed run among ``runs`` (``queries.operations`` of the ids asked for, read
    from the warehouse before this transaction on the app's database) a failed_operations row;
    returns the ids that are operations (failed or partial runs that are not themselves retries)."""
    new = runs[runs["updated_at"].isna()]
    if not new.empty:
        rows = [{
            "sync_id": int(r.sync_id), "crm_source": r.crm_source, "operation_type": r.operation_type,
            "payload": _payload(r.payload), "error": r.error, "state": "failed", "attempts": 0,
            "failed_at": r.failed_at.tz_convert(None).to_pydatetime() if r.failed_at is not None else None,
            "updated_at": now,
        } for r in new.itertuples()]
        conn.execute(_insert_ignoring_duplicates(conn).on_conflict_do_nothing(), rows)
    return {int(i) for i in runs["sync_id"]}


def _why(row: Any) -> str:
    if row.state in ("queued", "running"):
        return f"already {row.state}"  # (and not yet stale)
    if row.state == "abandoned":
        return f"abandoned after {row.attempts} attempts"
    return str(row.state)


def retry(engine: Engine, settings: Settings, sync_ids: list[int], requested_by: str) -> RetryResult:
    """Queue a retry of each operation in ``sync_ids`` that may be retried now."""
    ids = list(dict.fromkeys(int(i) for i in sync_ids))
    outcome = RetryResult(requested=len(ids))
    if not ids:
        return outcome
    now = utc_now().replace(tzinfo=None)
    cap = settings.retry_max_attempts
    claimable = or_(operations.c.state == "failed", and_(
        operations.c.state.in_(("queued", "running")),
        operations.c.updated_at < now - timedelta(minutes=settings.retry_stale_minutes)))
    runs = queries.operations(engine, queries.OperationFilter(sync_ids=tuple(ids)), limit=len(ids))
    with app_db(engine).begin() as conn:
        if conn.dialect.name == "sqlite":  # take the write lock first: two readers cannot both upgrade
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        known = _record(conn, runs, now)
        conn.execute(update(operations)
                     .where(operations.c.sync_id.in_(ids), claimable, operations.c.attempts >= cap)
                     .values(state="abandoned", updated_at=now))
        claimed = conn.execute(
            update(operations)
            .where(operations.c.sync_id.in_(ids), claimable, operations.c.attempts < cap)
            .values(state="queued", attempts=operations.c.attempts + 1, max_attempts=cap, queued_at=now,
                    started_at=None, finished_at=None, updated_at=now)
            .returning(operations.c.sync_id, operations.c.attempts, operations.c.crm_source,
                       operations.c.operation_type, operations.c.payload)).all()
        messages = [(task_id_for(row.sync_id, row.attempts), row) for row in claimed]
        if messages:
            conn.execute(update(operations).where(operations.c.sync_id == bindparam("b_id"))
                         .values(task_id=bindparam("b_task")),
                         [{"b_id": row.sync_id, "b_task": task_id} for task_id, row in messages])
            conn.execute(insert(attempts), [{
                "sync_id": row.sync_id, "attempt": row.attempts, "task_id": task_id, "task_name": settings.retry_task,
                "requested_by": requested_by[:100], "state": "queued", "queued_at": now,
            } for task_id, row in messages])
        others = [i for i in ids if i not in {row.sync_id for row in claimed}]
        for row in conn.execute(select(operations.c.sync_id, operations.c.state, operations.c.attempts)
                                .where(operations.c.sync_id.in_(others))):
            outcome.skipped[row.sync_id] = _why(row)
    for i in others:
        outcome.skipped.setdefault(i, "not a failed run" if i not in known else "not retryable")
    try:
        retry_queue.send(settings, [(task_id, {
            "crm_source": row.crm_source, "sync_type": row.operation_type,
            "payload": json.loads(row.payload or "{}"), "operation_id": row.sync_id,
        }) for task_id, row in messages])
        outcome.queued = [row.sync_id for _, row in messages]
    except retry_queue.RetryQueueError as exc:
        outcome.queued = [row.sync_id for _, row in messages[:exc.sent]]
        _give_back(engine, messages[exc.sent:], str(exc))
        outcome.error = str(exc)
        for _, row in messages[exc.sent:]:
            outcome.skipped[row.sync_id] = "not queued"
    return outcome


def _give_back(engine: Engine, messages: list[tuple[str, Any]], error: str) -> None:
    """Claims the broker did not take: back to failed, the attempt not counted."""
    if not messages:
        return
    now = utc_now().replace(tzinfo=None)
    with app_db(engine).begin() as conn:
        for task_id, row in messages:
            conn.execute(update(operations)
                         .where(operations.c.sync_id == row.sync_id, operations.c.task_id == task_id,
                                operations.c.state == "queued")
                         .values(state="failed", attempts=operations.c.attempts - 1, task_id=None,
                                 last_error=f"not queued: {error}"[:4000], updated_at=now))
            conn.execute(delete(attempts).where(attempts.c.task_id == task_id))
