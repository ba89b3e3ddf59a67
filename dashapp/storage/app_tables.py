"""The app's own tables (never the user's), in APP_SCHEMA (default ``sync_monitor``; plain
tables on SQLite). Written by ``dashapp/storage/migrations`` (``python app.py db upgrade``); these Core
definitions are what the writers and readers use. Times are naive UTC. The tables the writers in
``queries/`` use are defined in ``queries/_app_tables.py`` (``queries/`` imports nothing of
dashapp) and re-exported here; the run rollups' tables, which only ``dashapp/storage/rollups.py``
writes, are defined here on the same ``metadata``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, Integer, String, Table, Text

from queries._app_tables import (
    alert_notifications,
    alerts,
    api_call_hours,
    api_call_minutes,
    api_calls,
    audit_log,
    breaker_events,
    digest_deliveries,
    digests,
    failed_operations,
    health_changes,
    metadata,
    operation_attempts,
    session_generations,
    sign_in_attempts,
)
from queries.duration_histogram import COLUMNS as DURATIONS

__all__ = ["alert_notifications", "alerts", "api_call_hours", "api_call_minutes", "api_calls", "audit_log",
           "breaker_events", "digest_deliveries", "digests", "duration_days", "error_hours", "failed_operations",
           "health_changes", "metadata", "operation_attempts", "periodic_runs", "rollup_state", "run_days",
           "run_hours", "session_generations", "sign_in_attempts"]


# Rollups of the user's runs (dashapp/storage/rollups.py keeps them; queries/run_rollups/ reads them).
# ``hour``: the UTC hour the runs started in (naive UTC); ``day``: the calendar day of their
# start_time as the raw queries label it (the data zone), so a window of UTC hours regroups by the
# same days; ``status_class``: queries.outcomes' class, 'unknown' for any other value.
def _run_rollup(name: str, period: Column) -> Table:
    return Table(
        name, metadata, period,
        Column("day", String(10), nullable=False),
        Column("crm_source", Text),  # NULL where the run's is NULL ('' stays '')
        Column("sync_type", Text),
        Column("status_class", String(10), nullable=False),
        *(Column(c, BigInteger, nullable=False, server_default="0") for c in RUN_COUNTS),
        *(Column(c, Float, nullable=False, server_default="0") for c in RUN_SECONDS),
        *(Column(c, Integer, nullable=False, server_default="0") for c in DURATIONS),
    )


RUN_COUNTS = ("runs", "records_processed", "records_created", "records_updated", "records_failed",
              "timed_runs", "timed_records", "duration_count")
RUN_SECONDS = ("timed_seconds", "duration_sum")
run_hours = _run_rollup("run_hours", Column("hour", DateTime(), nullable=False))
run_days = _run_rollup("run_days", Column("day_utc", String(10), nullable=False))

# run_days' histograms of the runs that succeeded or were partial, without the sync type: what
# the performance page reads for whole days when no sync type is chosen (a tenth of the rows).
duration_days = Table(
    "duration_days", metadata,
    Column("day_utc", String(10), nullable=False),
    Column("day", String(10), nullable=False),
    Column("crm_source", Text),
    Column("duration_count", BigInteger, nullable=False, server_default="0"),
    *(Column(c, Integer, nullable=False, server_default="0") for c in DURATIONS),
)

error_hours = Table(
    "error_hours", metadata,
    Column("hour", DateTime(), nullable=False),
    Column("day", String(10), nullable=False),
    Column("error_class", String(240), nullable=False),
    Column("runs", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("partial", Integer, nullable=False),
    Column("last_seen", DateTime()),
    Column("sample", Text),  # the hour's most frequent message of the class (first 500 characters)
    Column("sample_runs", Integer, nullable=False),
    Column("sample_id", BigInteger),  # one run with that message
)

rollup_state = Table(
    "rollup_state", metadata,
    Column("name", String(40), primary_key=True),
    Column("covered_until", DateTime()),  # hours before it are rolled up; the raw table answers after
    Column("refreshed_at", DateTime()),
    Column("reconciled_day", String(10)),  # the reconciliation's cursor (walks back from yesterday)
    Column("detail", Text),
    # a build under way has rolled up every hour before it (NULL: none under way); a killed build resumes there
    Column("build_cursor", DateTime()),
    Column("last_id", BigInteger),  # the highest sync_history.id rolled up: a refresh recomputes the later rows' hours
)

# Jobs every instance runs on a timer that must run once per interval across all of them
# (dashapp/storage/periodic.py): when the current interval was claimed, how many were, and by whom.
periodic_runs = Table(
    "periodic_runs", metadata,
    Column("name", String(40), primary_key=True),
    Column("started_at", DateTime(), nullable=False),
    Column("runs", BigInteger, nullable=False, server_default="0"),
    Column("started_by", String(200)),  # host:pid of the process that claimed it
)
