"""The run each API call and breaker transition was made in (``sync_run_id``, NULL outside a
run), with partial indexes that make "the calls of run N" an index lookup.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = {"api_calls": "api_calls_sync_run", "circuit_breaker_events": "breaker_events_sync_run"}


def upgrade(app_schema: str | None = None) -> None:
    for table, index in TABLES.items():
        op.add_column(table, sa.Column("sync_run_id", sa.BigInteger()), schema=app_schema)
        op.create_index(index, table, ["sync_run_id"], schema=app_schema,
                        postgresql_where=sa.text("sync_run_id IS NOT NULL"),
                        sqlite_where=sa.text("sync_run_id IS NOT NULL"))


def downgrade(app_schema: str | None = None) -> None:
    for table, index in TABLES.items():
        op.drop_index(index, table_name=table, schema=app_schema)
        with op.batch_alter_table(table, schema=app_schema) as batch:
            batch.drop_column("sync_run_id")
