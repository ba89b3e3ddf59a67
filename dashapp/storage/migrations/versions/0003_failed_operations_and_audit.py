"""Failed operations (one row per failed run an operator has acted on), their retry attempts,
and the audit of every action.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade(app_schema: str | None = None) -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    op.create_table(
        "failed_operations",
        sa.Column("sync_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("crm_source", sa.String(50), nullable=False),
        sa.Column("operation_type", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("failed_at", sa.DateTime()),
        sa.Column("state", sa.String(12), nullable=False, server_default="failed"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="3"),
        sa.Column("last_error", sa.Text()),
        sa.Column("task_id", sa.String(100)),
        sa.Column("queued_at", sa.DateTime()),
        sa.Column("started_at", sa.DateTime()),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("resolved_by_run", sa.BigInteger()),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        schema=app_schema,
    )
    op.create_index("failed_operations_state", "failed_operations", ["state"], schema=app_schema)
    op.create_table(
        "operation_attempts",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("sync_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(100), nullable=False),
        sa.Column("task_name", sa.String(200), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime()),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("run_id", sa.BigInteger()),
        sa.Column("error", sa.Text()),
        schema=app_schema,
    )
    op.create_index("operation_attempts_task", "operation_attempts", ["task_id"], unique=True, schema=app_schema)
    op.create_index("operation_attempts_operation", "operation_attempts", ["sync_id", "attempt"], schema=app_schema)
    op.create_index("operation_attempts_run", "operation_attempts", ["run_id"], schema=app_schema)
    op.create_table(
        "audit_log",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.Text()),
        sa.Column("operations", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("source", sa.String(10), nullable=False),
        schema=app_schema,
    )
    op.create_index("audit_log_at", "audit_log", ["at"], schema=app_schema)


def downgrade(app_schema: str | None = None) -> None:
    op.drop_table("audit_log", schema=app_schema)
    op.drop_table("operation_attempts", schema=app_schema)
    op.drop_table("failed_operations", schema=app_schema)
