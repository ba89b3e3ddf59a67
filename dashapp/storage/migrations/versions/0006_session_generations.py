"""Session generations: one row per user whose sessions were ended (sign-out, a changed password
or role); a session cookie from an older generation is signed out. Used when REDIS_URL is not set.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade(app_schema: str | None = None) -> None:
    op.create_table(
        "session_generations",
        sa.Column("user_name", sa.String(100), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        schema=app_schema,
    )


def downgrade(app_schema: str | None = None) -> None:
    op.drop_table("session_generations", schema=app_schema)
