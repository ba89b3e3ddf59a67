"""API calls and circuit-breaker transitions.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(app_schema: str | None = None) -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    op.create_table(
        "api_calls",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("called_at", sa.DateTime(), nullable=False),
        sa.Column("crm_source", sa.String(50), nullable=False),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text()),
        sa.Column("rate_limit_limit", sa.Integer()),
        sa.Column("rate_limit_remaining", sa.Integer()),
        sa.Column("rate_limit_reset_at", sa.DateTime()),
        schema=app_schema,
    )
    # The page asks per CRM and endpoint over a time window, and for the latest observation.
    op.create_index("api_calls_crm_endpoint_time", "api_calls", ["crm_source", "endpoint", "called_at"],
                    schema=app_schema)
    op.create_index("api_calls_time", "api_calls", ["called_at"], schema=app_schema)
    op.create_table(
        "circuit_breaker_events",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("breaker", sa.String(100), nullable=False),
        sa.Column("crm_source", sa.String(50), nullable=False),
        sa.Column("from_state", sa.String(10), nullable=False),
        sa.Column("to_state", sa.String(10), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text()),
        schema=app_schema,
    )
    op.create_index("breaker_events_breaker_time", "circuit_breaker_events", ["breaker", "occurred_at"],
                    schema=app_schema)


def downgrade(app_schema: str | None = None) -> None:
    op.drop_table("circuit_breaker_events", schema=app_schema)
    op.drop_table("api_calls", schema=app_schema)
