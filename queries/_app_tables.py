"""The Core definitions of the app's own tables that the writers in ``queries/`` use: the CRM
calls and their rollups, breaker transitions, failed operations and their attempts, the audit log,
alerts and their notifications, session generations, sign-in attempts, the services' health
changes. They live in APP_SCHEMA (default ``sync_monitor``; plain tables on SQLite): the engine's
``schema_translate_map`` points APP_DEFAULT_SCHEMA at it. ``dashapp/storage/app_tables.py``
re-exports them beside the run rollups' tables, on the same ``metadata``;
``dashapp/storage/migrations`` creates them. Times are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from queries.latency_histogram import COLUMNS as HISTOGRAM

APP_DEFAULT_SCHEMA = "sync_monitor"
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
    Column("source", String(10), nullable=False),  # page, api, sign-in
    # a refusal is a counted summary: one row per source, actor, action, result, detail and minute
    Column("repeats", Integer, nullable=False, server_default="1"),  # the requests this row stands for
    Column("summary_key", String(64), unique=True),  # NULL for an ordinary row
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

# Sign-in attempts per key (``address:<a>`` or ``pair:<a>|<name>``), reserved before a password is
# checked (dashapp/auth/sign_in_limit.py, without Redis or while it does not answer).
sign_in_attempts = Table(
    "sign_in_attempts", metadata,
    Column("key", String(250), primary_key=True),
    Column("failures", Integer, nullable=False, server_default="0"),  # reserved attempts in the window
    Column("window_ends", DateTime(), nullable=False),
    Column("last_failure", DateTime()),
)

# The morning digest (dashapp/alerts/digest.py): one row per local day it covers, inserted by the one
# process that claims the day (so it is sent once however many instances run), and one row per
# channel and target it went to, so a retry resends only what failed.
digests = Table(
    "digests", metadata,
    Column("day", String(10), primary_key=True),  # the local day covered (DISPLAY_TIMEZONE), YYYY-MM-DD
    Column("status", String(10), nullable=False),  # sending, sent, failed (some channel failed)
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("claimed_at", DateTime(), nullable=False),
    Column("claimed_by", String(200)),  # host:pid
    Column("sent_at", DateTime()),
    Column("error", Text),
)
digest_deliveries = Table(
    "digest_deliveries", metadata,
    Column("day", String(10), primary_key=True),
    Column("channel", String(20), primary_key=True),  # webhook, slack, email
    Column("target", String(300), primary_key=True),  # the URL (cut to 300) or the addresses
    Column("status", String(10), nullable=False),  # sent, failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Column("sent_at", DateTime()),
)
# One row per change of a service's health status as the health snapshot saw it (queries/health_changes.py):
# ``previous_id`` is the service's row before it (0 for its first), unique per service, so two
# instances seeing the same change write it once.
health_changes = Table(
    "health_changes", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("at", DateTime(), nullable=False),
    Column("service", String(40), nullable=False),
    Column("from_status", String(20)),  # NULL for a service's first row
    Column("to_status", String(20), nullable=False),
    Column("detail", Text),  # the probe's error, at most 500 characters
    Column("previous_id", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("service", "previous_id", name="health_changes_once"),
    Index("health_changes_service_at", "service", "at"),
)
