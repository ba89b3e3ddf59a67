"""The audit log: every action (who, when, what, how many operations, result), in the app's own
``audit_log`` table. Sign-in attempts are audited too; passwords never are.

A refusal (result ``denied``: a refused action, a failed or locked sign-in) is a counted summary,
not a row of its own: one row per source, actor, action, result, detail and minute, whose
``repeats`` counts the requests, so a flood of refused requests cannot push the real entries out of
the page's latest 50. Everything else (actions done, successful sign-ins) is one row each."""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashapp.auth.users import User
from queries import audit_log
from queries.clock import utc_now

log = logging.getLogger(__name__)


SUMMARIZED = "denied"


def summary_key(values: dict) -> str:
    """One summary row per source, actor, action, result, detail and minute (UTC)."""
    parts = [values[k] for k in ("source", "actor", "action", "result", "detail")] + [f"{values['at']:%Y-%m-%dT%H:%M}"]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def record(engine: Engine, user: User | None, action: str, result: str, *, target: str = "", operations: int = 0,
           detail: str = "", source: str = "page", actor: str | None = None) -> None:
    """Write one audit row, or count a refusal on its minute's summary row. A database that cannot
    take it is logged and re-raised: an action that cannot be audited is reported as failed rather
    than done silently."""
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
        if result == SUMMARIZED:
            audit_log.add_repeat(engine, summary_key=summary_key(values), **values)
        else:
            audit_log.add_entry(engine, **values)
    except SQLAlchemyError:
        log.error("could not write the audit row %s", {k: v for k, v in values.items() if k != "detail"})
        raise
