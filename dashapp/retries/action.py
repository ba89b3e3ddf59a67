"""A retry as an action: who may (``auth.refusal``), how many at once (RETRY_BULK_LIMIT), the
retry itself (``retries.retry``) and its audit row. The page's callbacks and the API both come
through here, so the checks cannot differ between them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from dashapp.auth import audit
from dashapp.auth import users as auth
from dashapp.config import Settings
from dashapp.retries import claiming as retries
from queries.failed_operations import has_app_tables

NOT_MIGRATED = "retries need the app's own tables: run `python app.py db upgrade` first"


@dataclass(frozen=True)
class ActionOutcome:
    status: int  # the HTTP status: 202, 200 (nothing to queue), 401, 403, 409 (no app tables), 413, 503
    message: str
    result: retries.RetryResult | None = None


def retry(settings: Settings, engine: Engine, user: auth.User | None, sync_ids: list[int], target: str,
          source: str) -> ActionOutcome:
    """Retry ``sync_ids`` for ``user``; ``target`` says in the audit what was asked for."""
    refused = auth.refusal(settings, user)
    tables = has_app_tables(engine)  # before db upgrade there is no audit log to write to
    if refused is not None:
        if tables:
            audit.record(engine, user, "retry", "denied", target=target, operations=len(sync_ids),
                         detail=refused.message, source=source)
        return ActionOutcome(refused.status, refused.message)
    if not tables:
        return ActionOutcome(409, NOT_MIGRATED)
    if len(sync_ids) > settings.retry_bulk_limit:
        message = (f"at most {settings.retry_bulk_limit:,} operations can be retried at once (RETRY_BULK_LIMIT);"
                   " narrow the filter")
        audit.record(engine, user, "retry", "denied", target=target, operations=len(sync_ids), detail=message,
                     source=source)
        return ActionOutcome(413, message)
    assert user is not None  # refusal() returns 401 without one
    result = retries.retry(engine, settings, sync_ids, user.name)
    audit.record(engine, user, "retry", result.result, target=target, operations=len(result.queued),
                 detail=result.summary(), source=source)
    if result.error:
        return ActionOutcome(503, result.summary(), result)
    return ActionOutcome(202 if result.queued else 200, result.summary(), result)
