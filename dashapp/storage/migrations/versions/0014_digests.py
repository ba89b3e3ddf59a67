"""``digests`` and ``digest_deliveries``: the morning digest (DIGEST_AT). One row per local day it
covers, inserted by the one process that claims the day, so it is sent once however many instances
run; and one row per channel and target, so a retry resends only the channels that failed.

Revision ID: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade(app_schema: str | None = None) -> None:
    op.create_table(
        "digests",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("sent_at", sa.DateTime()),
        sa.Column("error", sa.Text()),
        schema=app_schema,
    )
    op.create_table(
        "digest_deliveries",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("channel", sa.String(20), primary_key=True),
        sa.Column("target", sa.String(300), primary_key=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text()),
        sa.Column("sent_at", sa.DateTime()),
        schema=app_schema,
    )


def downgrade(app_schema: str | None = None) -> None:
    op.drop_table("digest_deliveries", schema=app_schema)
    op.drop_table("digests", schema=app_schema)
