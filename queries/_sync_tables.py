"""The user's two tables, column for column as ``docs/sync-tables.md`` gives them, as Core tables.

Sync Monitor's pages only read them, with SQL text in ``queries/``. These definitions serve the
writers: the recorder's statements (``queries/sync_run_writes.py``), the embedded demo's
(``queries/demo_data.py``), the tests and the benchmarks, which import them from
``dashapp/storage/sync_tables.py``. The schema is written as ``orchestration`` and mapped onto
``SYNC_SCHEMA`` at execution time (see ``dashapp.storage.db.schema_map``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from queries._sql import DEFAULT_SCHEMA

metadata = MetaData(schema=DEFAULT_SCHEMA)

_id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only
_json = JSON().with_variant(JSONB(), "postgresql")

sync_history = Table(
    "sync_history",
    metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("crm_source", String(50), nullable=False),
    Column("sync_type", String(100), nullable=False),
    Column("endpoint", String(200)),
    Column("start_time", DateTime(), nullable=False),
    Column("end_time", DateTime()),
    Column("status", String(20), server_default="running"),
    Column("records_processed", Integer, server_default="0"),
    Column("records_created", Integer, server_default="0"),
    Column("records_updated", Integer, server_default="0"),
    Column("records_failed", Integer, server_default="0"),
    Column("error_message", Text),
    Column("configuration", _json, server_default=text("'{}'")),
    Column("performance_metrics", _json, server_default=text("'{}'")),
    Column("created_at", DateTime(), server_default=text("CURRENT_TIMESTAMP")),
    Index("idx_sync_history_crm_type", "crm_source", "sync_type"),
    Index("idx_sync_history_start_time", "start_time"),
    Index("idx_sync_history_status", "status"),
)

sync_schedule = Table(
    "sync_schedule",
    metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("crm_source", String(64), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("recurrence_type", String(16), nullable=False),
    Column("every", Integer),
    Column("period", String(24)),
    Column("crontab_minute", String(64), server_default="*"),
    Column("crontab_hour", String(64), server_default="*"),
    Column("crontab_day_of_week", String(64), server_default="*"),
    Column("crontab_day_of_month", String(64), server_default="*"),
    Column("crontab_month_of_year", String(64), server_default="*"),
    Column("enabled", Boolean, server_default=text("TRUE")),
    Column("last_run", DateTime()),
    Column("next_run", DateTime()),
    Column("periodic_task_id", Integer),
    Column("created_at", DateTime(), server_default=text("CURRENT_TIMESTAMP")),
    Column("updated_at", DateTime(), server_default=text("CURRENT_TIMESTAMP")),
)
