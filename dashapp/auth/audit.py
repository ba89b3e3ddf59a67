"""The audit log: every action (who, when, what, how many operations, result), in the app's own
``audit_log`` table. Sign-in attempts are audited too; passwords never are."""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashapp.auth.users import User
from queries import audit_log
from queries._sql import utc_now

log = logging.getLogger(__name__)


def record(engine: Engine, user: User | None, action: str, result: str, *, target: str = "", operations: int = 0,
           detail: str = "", source: str = "page", actor: str | None = None) -> None:
    """Write one audit row. A database that cannot take it is logged and re-raised: an action
    that cannot be audited is reported as failed rather than done silently."""
    values = {
        "at": utc_now().replace(tzinfo=None),
        "actor": (actor or (user.name if user else "anonymous"))[:100],
        "role": user.role if user else "none",
        "action": action,
        "target": target[:2000],
        "operations": operations,
        "result": result,
        "detail": detail[:4000],
        "source": source,
    }
    try:
        audit_log.add_entry(engine, **values)
    except SQLAlchemyError:
        log.error("could not write the audit row %s", {k: v for k, v in values.items() if k != "detail"})
        raise
