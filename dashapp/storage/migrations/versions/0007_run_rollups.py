"""Rollups of the user's runs per hour (and per day, summed from the hours; and the day's duration
histograms per CRM without the sync type) by CRM, sync type and
status class, with a duration histogram; error classes per hour; the rollups' state. Filled from
the existing history by ``python app.py db upgrade`` after the migrations (dashapp/rollups.py).

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

from queries.duration_histogram import COLUMNS

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COUNTS = ("runs", "records_processed", "records_created", "records_updated", "records_failed",
          "timed_runs", "timed_records", "duration_count")
SECONDS = ("timed_seconds", "duration_sum")


def _run_rollup(name: str, period: sa.Column, app_schema: str | None) -> None:
    op.create_table(
        name, period,
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("crm_source", sa.String(100), nullable=False),
        sa.Column("sync_type", sa.String(100), nullable=False),
        sa.Column("status_class", sa.String(10), nullable=False),
        *(sa.Column(c, sa.BigInteger(), nullable=False, server_default="0") for c in COUNTS),
        *(sa.Column(c, sa.Float(), nullable=False, server_default="0") for c in SECONDS),
        *(sa.Column(c, sa.Integer(), nullable=False, server_default="0") for c in COLUMNS),
        schema=app_schema,
    )
    op.create_index(f"{name}_key", name, [period.name, "day", "crm_source", "sync_type", "status_class"],
                    unique=True, schema=app_schema)


def upgrade(app_schema: str | None = None) -> None:
    _run_rollup("run_hours", sa.Column("hour", sa.DateTime(), nullable=False), app_schema)
    _run_rollup("run_days", sa.Column("day_utc", sa.String(10), nullable=False), app_schema)
    op.create_table(
        "duration_days",
        sa.Column("day_utc", sa.String(10), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("crm_source", sa.String(100), nullable=False),
        sa.Column("duration_count", sa.BigInteger(), nullable=False, server_default="0"),
        *(sa.Column(c, sa.Integer(), nullable=False, server_default="0") for c in COLUMNS),
        schema=app_schema,
    )
    op.create_index("duration_days_key", "duration_days", ["day_utc", "day", "crm_source"], unique=True,
                    schema=app_schema)
    op.create_table(
        "error_hours",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("error_class", sa.String(240), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("partial", sa.Integer(), nullable=False),
        sa.Column("last_seen", sa.DateTime()),
        sa.Column("sample", sa.Text()),
        sa.Column("sample_runs", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.BigInteger()),
        schema=app_schema,
    )
    op.create_index("error_hours_hour", "error_hours", ["hour"], schema=app_schema)
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("covered_until", sa.DateTime()),
        sa.Column("refreshed_at", sa.DateTime()),
        sa.Column("reconciled_day", sa.String(10)),
        sa.Column("detail", sa.Text()),
        schema=app_schema,
    )


def downgrade(app_schema: str | None = None) -> None:
    for name in ("rollup_state", "error_hours", "duration_days", "run_days", "run_hours"):
        op.drop_table(name, schema=app_schema)
