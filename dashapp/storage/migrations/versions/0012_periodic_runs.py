"""``periodic_runs``: the jobs every instance runs on a timer but that must run once per interval
across all of them (the run rollups' refresh, the alert evaluation). One row per job: when its
current interval was claimed, how many intervals were claimed, and by which host and process.

Revision ID: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade(app_schema: str | None = None) -> None:
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("runs", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("started_by", sa.String(200)),
        schema=app_schema,
    )


def downgrade(app_schema: str | None = None) -> None:
    op.drop_table("periodic_runs", schema=app_schema)
