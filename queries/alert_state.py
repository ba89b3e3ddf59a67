"""Writing alert state (the app's ``alerts`` table): the evaluation's lock, the firing alerts it
compares its findings with, firing, refreshing and auto-resolving them, and the operators'
acknowledge and resolve. Every function runs on its caller's Connection, in the caller's
transaction (notifications are queued in the same one). Times are naive UTC."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Row, insert, select, text, update

from queries._app_tables import alerts


def lock_evaluation(conn: Connection, lock_id: int) -> bool:
    """Take the evaluation's lock for the rest of the transaction: on PostgreSQL a transaction
    advisory lock, False (at once) when another evaluation holds it; on SQLite the write lock
    (BEGIN IMMEDIATE: it waits for it), True."""
    if conn.dialect.name == "postgresql":
        return bool(conn.execute(text(f"SELECT pg_try_advisory_xact_lock({int(lock_id)})")).scalar())
    conn.exec_driver_sql("BEGIN IMMEDIATE")
    return True


def firing(conn: Connection) -> Sequence[Row]:
    """The firing alerts: id, rule, subject, severity."""
    return conn.execute(select(alerts.c.id, alerts.c.rule, alerts.c.subject, alerts.c.severity)
                        .where(alerts.c.state == "firing")).all()


def fire(conn: Connection, rule: str, subject: str, severity: str, summary: str, value: float | None,
         at: datetime) -> int:
    """A new firing alert of ``rule`` on ``subject``; returns its id."""
    values = {"severity": severity, "summary": summary, "value": value, "last_seen_at": at}
    return int(conn.execute(insert(alerts).values(rule=rule, subject=subject, state="firing", fired_at=at,
                                                  **values)).inserted_primary_key[0])


def refresh(conn: Connection, alert_id: int, severity: str, summary: str, value: float | None,
            at: datetime) -> None:
    """A firing alert found again: its severity, summary and value now, seen at ``at``."""
    conn.execute(update(alerts).where(alerts.c.id == alert_id)
                 .values(severity=severity, summary=summary, value=value, last_seen_at=at))


def auto_resolve(conn: Connection, alert_id: int, at: datetime) -> None:
    """An alert its rule no longer finds: resolved by ``auto``."""
    conn.execute(update(alerts).where(alerts.c.id == alert_id)
                 .values(state="resolved", resolved_at=at, resolved_by="auto"))


def acknowledge(conn: Connection, alert_id: int, by: str, at: datetime) -> int:
    """Acknowledge a firing alert nobody has acknowledged yet; returns 1, or 0 when there is none."""
    return conn.execute(update(alerts).where(alerts.c.id == alert_id, alerts.c.state == "firing",
                                             alerts.c.acknowledged_at.is_(None))
                        .values(acknowledged_by=by, acknowledged_at=at)).rowcount


def resolve(conn: Connection, alert_id: int, by: str, note: str | None, at: datetime) -> int:
    """Resolve a firing alert by hand, with an optional note; returns 1, or 0 when it is not firing."""
    return conn.execute(update(alerts).where(alerts.c.id == alert_id, alerts.c.state == "firing")
                        .values(state="resolved", resolved_at=at, resolved_by=by, resolve_note=note)).rowcount
