"""The app's own tables (never the user's), in APP_SCHEMA (default ``sync_monitor``; plain
tables on SQLite). Written by ``dashapp/storage/migrations`` (``python app.py db upgrade``); these Core
definitions are what the writers and readers use. Times are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, Integer, MetaData, String, Table, Text

from dashapp.storage.db import APP_DEFAULT_SCHEMA
from queries.duration_histogram import COLUMNS as DURATIONS
from queries.latency_histogram import COLUMNS as HISTOGRAM

metadata = MetaData(schema=APP_DEFAULT_SCHEMA)
_id = BigInteger().with_variant(Integer, "sqlite")

api_calls = Table(
    "api_calls", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("called_at", DateTime(), nullable=False),
    Column("crm_source", String(50), nullable=False),
    Column("endpoint", String(200), nullable=False),
    Column("method", String(10), nullable=False),
    Column("status_code", Integer),  # NULL when no response came (timeout, connection error)
    Column("duration_ms", Float, nullable=False),
    Column("retries", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Column("rate_limit_limit", Integer),
    Column("rate_limit_remaining", Integer),
    Column("rate_limit_reset_at", DateTime()),
    Column("sync_run_id", BigInteger),  # the sync_history run the call was made in (record_sync), else NULL
)

def _rollup(name: str) -> Table:
    """A rollup of api_calls: one row per period (its start in ``minute``), CRM and endpoint."""
    return Table(
        name, metadata,
        Column("minute", DateTime(), nullable=False),
        Column("crm_source", String(50), nullable=False),
        Column("endpoint", String(200), nullable=False),
        *(Column(column, Integer, nullable=False, server_default="0")
          for column in ("calls", "successes", "client_errors", "server_errors", "no_response", "retries")),
        Column("duration_sum", Float, nullable=False, server_default="0"),
        Column("remaining_min", Integer),
        *(Column(column, Integer, nullable=False, server_default="0") for column in HISTOGRAM),
    )


api_call_minutes = _rollup("api_call_minutes")
api_call_hours = _rollup("api_call_hours")

breaker_events = Table(
    "circuit_breaker_events", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("occurred_at", DateTime(), nullable=False),
    Column("breaker", String(100), nullable=False),
    Column("crm_source", String(50), nullable=False),
    Column("from_state", String(10), nullable=False),
    Column("to_state", String(10), nullable=False),
    Column("failure_count", Integer, nullable=False),
    Column("reason", Text),
    Column("sync_run_id", BigInteger),  # the run the transition happened in, else NULL
)

# One row per failed run (sync_history.id) an operator has acted on; runs nobody touched yet are
# read straight from sync_history as state "failed" with 0 attempts.
failed_operations = Table(
    "failed_operations", metadata,
    Column("sync_id", BigInteger, primary_key=True, autoincrement=False),
    Column("crm_source", String(50), nullable=False),
    Column("operation_type", String(100), nullable=False),  # the run's sync_type
    Column("payload", Text),  # the run's configuration, as JSON: what the retry is given
    Column("error", Text),  # the original run's error
    Column("failed_at", DateTime()),
    Column("state", String(12), nullable=False, server_default="failed"),
    Column("attempts", Integer, nullable=False, server_default="0"),  # retries so far
    Column("max_attempts", Integer, nullable=False, server_default="3"),
    Column("last_error", Text),  # the latest retry's error
    Column("task_id", String(100)),
    Column("queued_at", DateTime()),
    Column("started_at", DateTime()),
    Column("finished_at", DateTime()),
    Column("resolved_by_run", BigInteger),  # the sync_history run that succeeded
    Column("updated_at", DateTime(), nullable=False),
)

operation_attempts = Table(
    "operation_attempts", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("sync_id", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("task_id", String(100), nullable=False, unique=True),
    Column("task_name", String(200), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("state", String(12), nullable=False),  # queued, running, resolved, failed
    Column("queued_at", DateTime(), nullable=False),
    Column("started_at", DateTime()),
    Column("finished_at", DateTime()),
    Column("run_id", BigInteger),  # the sync_history row the retry recorded
    Column("error", Text),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("at", DateTime(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("action", String(40), nullable=False),  # retry, sign_in, sign_out
    Column("target", Text),  # what the action named: ids, or the filter
    Column("operations", Integer, nullable=False, server_default="0"),
    Column("result", String(20), nullable=False),  # ok, partial, denied, failed
    Column("detail", Text),
    Column("source", String(10), nullable=False),  # page, api
)

# One row per firing of a rule on a subject ("late" on "hubspot"); at most one firing per pair.
alerts = Table(
    "alerts", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("rule", String(40), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("severity", String(10), nullable=False),  # warning, critical
    Column("summary", Text, nullable=False),
    Column("value", Float),
    Column("state", String(10), nullable=False),  # firing, resolved
    Column("fired_at", DateTime(), nullable=False),
    Column("last_seen_at", DateTime(), nullable=False),
    Column("resolved_at", DateTime()),
    Column("resolved_by", String(100)),  # "auto" when the rule stopped finding it, else the operator
    Column("resolve_note", Text),
    Column("acknowledged_by", String(100)),
    Column("acknowledged_at", DateTime()),
)

alert_notifications = Table(
    "alert_notifications", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger, nullable=False),
    Column("event", String(12), nullable=False),  # firing, escalated, resolved
    Column("channel", String(20), nullable=False),  # webhook, slack, email
    Column("target", String(300), nullable=False),  # the URL or the addresses, for the page
    Column("status", String(10), nullable=False),  # pending, sent, failed (gave up)
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("created_at", DateTime(), nullable=False),
    Column("next_try_at", DateTime()),
    Column("sent_at", DateTime()),
)

# One row per user whose sessions were ended (dashapp/auth/session_generation.py, without Redis).
session_generations = Table(
    "session_generations", metadata,
    Column("user_name", String(100), primary_key=True),
    Column("generation", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime(), nullable=False),
)


# Rollups of the user's runs (dashapp/rollups.py keeps them; queries/run_rollups.py reads them).
# ``hour``: the UTC hour the runs started in (naive UTC); ``day``: the calendar day of their
# start_time as the raw queries label it (the data zone), so a window of UTC hours regroups by the
# same days; ``status_class``: queries.outcomes' class, 'unknown' for any other value.
def _run_rollup(name: str, period: Column) -> Table:
    return Table(
        name, metadata, period,
        Column("day", String(10), nullable=False),
        Column("crm_source", String(100), nullable=False),
        Column("sync_type", String(100), nullable=False),
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
    Column("crm_source", String(100), nullable=False),
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
)
