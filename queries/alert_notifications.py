"""Alert notification bookkeeping (the app's ``alert_notifications`` table): queuing one row per
alert event and channel, reading the ones due with their alerts, and recording each attempt.
Times are naive UTC."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from queries._app_tables import alert_notifications as notifications
from queries._app_tables import alerts
from queries._sql import Connectable, app_db, begin, connect


def add(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Queue notification rows, on the caller's Connection (the transaction that made the events)."""
    if rows:
        conn.execute(insert(notifications), rows)


def due(db: Connectable, now: datetime) -> tuple[Sequence[RowMapping], dict[int, dict[str, Any]]]:
    """The pending notifications whose time has come (oldest first), and their alerts by id."""
    with connect(app_db(db)) as conn:
        rows = conn.execute(select(notifications).where(notifications.c.status == "pending",
                                                        notifications.c.next_try_at <= now)
                            .order_by(notifications.c.id)).mappings().all()
        wanted = {row["alert_id"] for row in rows}
        by_id = {row["id"]: dict(row) for row in conn.execute(select(alerts).where(alerts.c.id.in_(wanted)))
                 .mappings()} if wanted else {}
    return rows, by_id


def record_attempt(db: Connectable, notification_id: int, attempts: int, values: dict[str, Any]) -> None:
    """One attempt at a notification, in a transaction of its own: its count and ``values``
    (status, sent_at, last_error, next_try_at)."""
    with begin(app_db(db)) as conn:
        conn.execute(update(notifications).where(notifications.c.id == notification_id)
                     .values(attempts=attempts, **values))
