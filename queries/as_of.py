"""The user's runs as they stood at a past moment (a view's ``at``), for the readers that aggregate
them (performance, errors, the run rollups' raw edges).

``runs_source`` is ``sync_history`` where a run that ended after the moment is still running then:
its status is ``running`` (a class of its own, in no finished count), its end and error message
unknown (NULL). Its other columns are as stored: the table keeps no earlier values of its record
counts. Only runs started before the moment are in it.

``queries.run_rollups.spanning_hours`` finds the UTC hours whose runs the rollups count differently
at the moment (a run that started in them and ended after it): readers take those hours from the
raw table through ``runs_source``. It looks back at most ``SPANNING_LOOKBACK`` from the moment: a
run longer than that across the moment counts with its stored status (the pages say so).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from queries._sql import Binds, table

RUNNING = "running"
SPANNING_LOOKBACK = timedelta(days=7)
_COLUMNS = ("id", "crm_source", "sync_type", "start_time", "records_processed", "records_created",
            "records_updated", "records_failed")


def runs_source(b: Binds, at: datetime | None, name: str = "sync_history") -> str:
    """What to put after FROM for the runs: the table itself when live (``at`` None), else a
    derived table of the runs as they stood at ``at``, named ``name``."""
    h = table(b.conn, "sync_history")
    if at is None:
        return h
    moment = b.bind(at)
    after = f"end_time > {moment}"
    return (f"(SELECT {', '.join(_COLUMNS)}, CASE WHEN {after} THEN '{RUNNING}' ELSE status END AS status, "
            f"CASE WHEN {after} THEN NULL ELSE end_time END AS end_time, "
            f"CASE WHEN {after} THEN NULL ELSE error_message END AS error_message "
            f"FROM {h} WHERE start_time < {moment}) {name}")
