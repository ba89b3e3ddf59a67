"""The services' health changes (the app's ``health_changes`` table): written when the health
snapshot sees a service's status differ from the last one recorded for it, read as the timeline's
``health_changed`` events and as the services' statuses at a past moment.

Each row names the service's row before it (``previous_id``, 0 for its first), unique per service:
when several instances see the same change at once, one insert wins and the others do nothing.
Before ``python app.py db upgrade`` has made the table: nothing is written, nothing read. Times are
naive UTC in the table, aware UTC in and out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from queries._app_tables import health_changes as changes
from queries._sql import Binds, Connectable, app_db, app_table, app_tables_exist, app_times, begin, connect

KINDS = ("health_changed",)
COLUMNS = ["kind", "change_id", "service", "from_status", "to_status", "detail", "at", "total"]
DETAIL_CHARS = 500
SERVICE_CHARS, STATUS_CHARS = 40, 20


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _last(conn) -> dict[str, tuple[int, str]]:
    """Each service's last row: {service: (id, to_status)}."""
    newest = select(func.max(changes.c.id)).group_by(changes.c.service)
    rows = conn.execute(select(changes.c.service, changes.c.id, changes.c.to_status)
                        .where(changes.c.id.in_(newest))).all()
    return {service: (int(row_id), status) for service, row_id, status in rows}


def record_changes(db: Connectable, now: datetime, statuses: Mapping[str, str],
                   details: Mapping[str, str | None] | None = None) -> list[str]:
    """Write a row for each service whose status in ``statuses`` ({service: status}) differs from
    its last recorded one (or that has none yet), at ``now``, with its detail (the probe's error;
    first DETAIL_CHARS characters). Returns the services written: a change another instance wrote
    first is not written again."""
    details = details or {}
    written = []
    with begin(app_db(db)) as conn:
        last = _last(conn)
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        for service, status in sorted(statuses.items()):
            service, status = str(service)[:SERVICE_CHARS], str(status)[:STATUS_CHARS]
            before = last.get(service)
            if before is not None and before[1] == status:
                continue
            detail = details.get(service)
            result = conn.execute(
                dialect.insert(changes).values(
                    at=_naive(now), service=service, from_status=before[1] if before else None, to_status=status,
                    detail=None if detail is None else str(detail)[:DETAIL_CHARS],
                    previous_id=before[0] if before else 0)
                .on_conflict_do_nothing(index_elements=["service", "previous_id"]))
            if result.rowcount:
                written.append(service)
    return written


def status_at(db: Connectable, at: datetime) -> dict[str, str]:
    """Each service's status as last recorded at or before ``at``: {service: status} ({} before
    the table exists or before any change)."""
    if not app_tables_exist(db, "health_changes"):
        return {}
    with connect(app_db(db)) as conn:
        newest = (select(func.max(changes.c.id)).where(changes.c.at <= _naive(at)).group_by(changes.c.service))
        rows = conn.execute(select(changes.c.service, changes.c.to_status).where(changes.c.id.in_(newest))).all()
    return {service: status for service, status in rows}


def events(db: Connectable, start: datetime, end: datetime, kinds: tuple[str, ...] = KINDS,
           crm_sources: tuple[str, ...] = (), sync_types: tuple[str, ...] = (), limit: int = 200) -> pd.DataFrame:
    """The ``limit`` newest changes at [start, end) as timeline events: kind (health_changed),
    change_id, service, from_status, to_status, detail, at, and ``total``. A service belongs to no
    CRM or sync type: a ``crm_source`` or ``sync_type`` filter leaves them out."""
    if "health_changed" not in kinds or crm_sources or sync_types or not app_tables_exist(db, "health_changes"):
        return pd.DataFrame(columns=COLUMNS)
    with connect(app_db(db)) as conn:
        b = Binds(conn)
        statement = f"""
            SELECT 'health_changed' AS kind, id AS change_id, service, from_status, to_status,
                   SUBSTR(detail, 1, {DETAIL_CHARS}) AS detail, at,
                   COUNT(*) OVER () AS total
            FROM {app_table(conn, "health_changes")}
            WHERE at >= {b.bind_app_time(start)} AND at < {b.bind_app_time(end)}
            ORDER BY at DESC, id DESC LIMIT {max(1, int(limit))}"""
        return app_times(b.frame(statement), ("at",))
