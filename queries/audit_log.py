"""Writing the audit log (``audit_log``, one of the app's own tables): one row per action.
``queries.failed_operations.audit`` reads it back for the page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert

from queries._app_tables import audit_log
from queries._sql import Connectable, app_db, begin


def add_entry(db: Connectable, *, at: datetime, actor: str, role: str, action: str, target: str, operations: int,
              result: str, detail: str, source: str) -> None:
    """Insert one audit row in a transaction of its own on the app's database (``at``: naive UTC)."""
    with begin(app_db(db)) as conn:
        conn.execute(insert(audit_log).values(at=at, actor=actor, role=role, action=action, target=target,
                                              operations=operations, result=result, detail=detail, source=source))
