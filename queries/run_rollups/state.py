"""How far the rollups reach (``rollup_state``) and which rolled-up hours are stale."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries._sql import Connectable, app_db, app_table, app_tables_exist, connect
from queries.run_rollups.columns import STATE
from queries.run_rollups.raw import hours_after_id


def ready(db: Connectable) -> datetime | None:
    """The hour the rollups reach (naive UTC; hours before it are rolled up), or None when there
    are no rollups (no ``db upgrade``, or a build that has not finished)."""
    if not app_tables_exist(db, "rollup_state"):
        return None
    with connect(app_db(db)) as conn:
        row = conn.exec_driver_sql(
            f"SELECT covered_until FROM {app_table(conn, 'rollup_state')} WHERE name = '{STATE}'").first()
    if row is None or row[0] is None:
        return None
    value = row[0]
    return pd.Timestamp(value).to_pydatetime() if not isinstance(value, datetime) else value


def last_id(db: Connectable) -> int | None:
    """The highest sync_history.id the rollups have seen (None before a build)."""
    with connect(app_db(db)) as conn:
        value = conn.exec_driver_sql(
            f"SELECT last_id FROM {app_table(conn, 'rollup_state')} WHERE name = '{STATE}'").scalar()
    return None if value is None else int(value)


def dirty_hours(db: Connectable, covered: datetime) -> frozenset[datetime]:
    """The UTC hours before ``covered`` holding runs written since the rollups' last cycle (a run
    that arrived late): until the next refresh recomputes them, readers count those hours from the
    raw table instead of from rollups that miss the run."""
    seen = last_id(db)
    if seen is None:
        return frozenset()
    return frozenset(hours_after_id(db, seen, covered))
