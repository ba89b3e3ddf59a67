"""The app's own tables (never the user's), in APP_SCHEMA (default ``sync_monitor``; plain
tables on SQLite). Written by ``dashapp/migrations`` (``python app.py db upgrade``); these Core
definitions are what the writers and readers use. Times are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, Integer, MetaData, String, Table, Text

from dashapp.db import APP_DEFAULT_SCHEMA
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
)
