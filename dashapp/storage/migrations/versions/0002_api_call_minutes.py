"""Per-minute and per-hour rollups of API calls with a latency histogram, kept by the writer, so
windows of hours and days read thousands of rows instead of millions (bench/crm_api_usage_bench.py).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

from queries.latency_histogram import COLUMNS, bucket_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COUNTS = ("calls", "successes", "client_errors", "server_errors", "no_response", "retries")


GRAINS = {"api_call_minutes": ("minute", "%Y-%m-%d %H:%M:00.000000"),
          "api_call_hours": ("hour", "%Y-%m-%d %H:00:00.000000")}


def upgrade(app_schema: str | None = None) -> None:
    for table, (unit, sqlite_format) in GRAINS.items():
        _rollup(table, unit, sqlite_format, app_schema)


def _rollup(table: str, unit: str, sqlite_format: str, app_schema: str | None) -> None:
    op.create_table(
        table,
        sa.Column("minute", sa.DateTime(), nullable=False),
        sa.Column("crm_source", sa.String(50), nullable=False),
        sa.Column("endpoint", sa.String(200), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in COUNTS),
        sa.Column("duration_sum", sa.Float(), nullable=False, server_default="0"),
        sa.Column("remaining_min", sa.Integer()),  # the lowest rate-limit remaining seen in the period
        *(sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in COLUMNS),
        schema=app_schema,
    )
    op.create_index(f"{table}_key", table, ["minute", "crm_source", "endpoint"], unique=True, schema=app_schema)
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    calls = f'"{app_schema}".api_calls' if app_schema else "api_calls"
    minutes = f'"{app_schema}".{table}' if app_schema else table
    minute = f"date_trunc('{unit}', called_at)" if postgres else f"strftime('{sqlite_format}', called_at)"
    bucket = bucket_sql(postgres)
    histogram = ", ".join(f"COUNT(*) FILTER (WHERE b = {i})" for i in range(len(COLUMNS)))
    op.execute(f"""
        INSERT INTO {minutes} (minute, crm_source, endpoint, {", ".join(COUNTS)}, duration_sum, remaining_min,
                               {", ".join(COLUMNS)})
        SELECT m, crm_source, endpoint, COUNT(*),
               COUNT(*) FILTER (WHERE status_code < 400),
               COUNT(*) FILTER (WHERE status_code >= 400 AND status_code < 500),
               COUNT(*) FILTER (WHERE status_code >= 500),
               COUNT(*) FILTER (WHERE status_code IS NULL),
               COALESCE(SUM(retries), 0), COALESCE(SUM(duration_ms), 0), MIN(rate_limit_remaining), {histogram}
        FROM (SELECT {minute} AS m, crm_source, endpoint, status_code, retries, duration_ms, rate_limit_remaining,
                     {bucket} AS b
              FROM {calls}) c
        GROUP BY 1, 2, 3""")


def downgrade(app_schema: str | None = None) -> None:
    for table in GRAINS:
        op.drop_table(table, schema=app_schema)
