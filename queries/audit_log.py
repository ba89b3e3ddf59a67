"""Writing the audit log (``audit_log``, one of the app's own tables): one row per action, and
one counted summary row per source, actor, action, result, detail and minute for refusals.
``queries.failed_operations.audit`` reads it back for the page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite

from queries._app_tables import audit_log
from queries._sql import Connectable, app_db, begin


def add_entry(db: Connectable, *, at: datetime, actor: str, role: str, action: str, target: str, operations: int,
              result: str, detail: str, source: str) -> None:
    """Insert one audit row in a transaction of its own on the app's database (``at``: naive UTC)."""
    with begin(app_db(db)) as conn:
        conn.execute(insert(audit_log).values(at=at, actor=actor, role=role, action=action, target=target,
                                              operations=operations, result=result, detail=detail, source=source))


def add_repeat(db: Connectable, *, summary_key: str, at: datetime, actor: str, role: str, action: str, target: str,
               operations: int, result: str, detail: str, source: str) -> None:
    """Count one more request on the summary row ``summary_key`` (made at 1 when it is the first),
    in one statement: the row keeps the latest request's time, target and operations."""
    with begin(app_db(db)) as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(audit_log).values(
            at=at, actor=actor, role=role, action=action, target=target, operations=operations, result=result,
            detail=detail, source=source, repeats=1, summary_key=summary_key)
        conn.execute(statement.on_conflict_do_update(
            index_elements=["summary_key"],
            set_={"at": statement.excluded.at, "target": statement.excluded.target,
                  "operations": statement.excluded.operations, "repeats": audit_log.c.repeats + 1}))
