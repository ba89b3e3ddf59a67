"""Covering indexes for the rollups' readers on PostgreSQL: the day counts (``run_days`` without
its ~190 histogram columns, a tenth of the table's pages) and the error classes' sums
(``error_hours`` without the sample text) are read by index-only scans. SQLite keeps the tables
as they are (its databases are small).

Revision ID: 0008
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

DAY_COUNTS = ["day", "crm_source", "sync_type", "status_class", "runs", "records_processed", "records_created",
              "records_updated", "records_failed", "timed_runs", "timed_records", "duration_count", "timed_seconds",
              "duration_sum"]
ERROR_SUMS = ["error_class", "runs", "failed", "partial", "last_seen", "sample_runs"]


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade(app_schema: str | None = None) -> None:
    if not _postgres():
        return
    op.create_index("run_days_counts", "run_days", ["day_utc"], postgresql_include=DAY_COUNTS, schema=app_schema)
    op.create_index("error_hours_sums", "error_hours", ["hour"], postgresql_include=ERROR_SUMS, schema=app_schema)


def downgrade(app_schema: str | None = None) -> None:
    if not _postgres():
        return
    op.drop_index("error_hours_sums", "error_hours", schema=app_schema)
    op.drop_index("run_days_counts", "run_days", schema=app_schema)
