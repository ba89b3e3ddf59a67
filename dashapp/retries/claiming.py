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
from sqlalchemy import Connection, Engine

from dashapp.auth.failure_classes import NOT_QUEUED
from dashapp.config import Settings
from dashapp.retries import broker as retry_queue
from dashapp.retries.task_ids import task_id_for
from queries import failed_operations as queries
from queries import retry_claims
from queries._sql import app_db
from queries.clock import utc_now


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
        retry_claims.add_operations(conn, rows)
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
    stale_before = now - timedelta(minutes=settings.retry_stale_minutes)
    runs = queries.operations(engine, queries.OperationFilter(sync_ids=tuple(ids)), limit=len(ids))
    with app_db(engine).begin() as conn:
        retry_claims.lock_for_claims(conn)
        known = _record(conn, runs, now)
        retry_claims.abandon(conn, ids, cap, stale_before, now)
        claimed = retry_claims.claim(conn, ids, cap, stale_before, now)
        messages = [(task_id_for(row.sync_id, row.attempts), row) for row in claimed]
        if messages:
            retry_claims.add_attempts(conn, {row.sync_id: task_id for task_id, row in messages}, [{
                "sync_id": row.sync_id, "attempt": row.attempts, "task_id": task_id, "task_name": settings.retry_task,
                "requested_by": requested_by[:100], "state": "queued", "queued_at": now,
            } for task_id, row in messages])
        others = [i for i in ids if i not in {row.sync_id for row in claimed}]
        for row in retry_claims.states(conn, others):
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
    """Claims the broker did not take: back to failed, the attempt not counted, the broker's words
    kept after ``not queued:`` (infrastructure: ``failure_classes`` tells anyone but an operator
    only its class)."""
    if not messages:
        return
    retry_claims.give_back(engine, [(row.sync_id, task_id) for task_id, row in messages],
                           f"{NOT_QUEUED}{error}"[:4000], utc_now().replace(tzinfo=None))
