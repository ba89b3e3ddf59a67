"""``health_changes``: each change of a service's health status (database, impossible times, Redis,
Celery) as the health snapshot saw it, for the timeline's ``health_changed`` events and health as
of a past moment. ``previous_id`` (the service's row before, 0 for its first) is unique per service:
two instances that see the same change write it once.

Revision ID: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade(app_schema: str | None = None) -> None:
    if sa.inspect(op.get_bind()).has_table("health_changes", schema=app_schema):
        return  # already made (a database put back to an older revision by hand keeps it)
    op.create_table(
        "health_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("service", sa.String(40), nullable=False),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("previous_id", sa.BigInteger(), nullable=False, server_default="0"),
        sa.UniqueConstraint("service", "previous_id", name="health_changes_once"),
        schema=app_schema,
    )
    op.create_index("health_changes_service_at", "health_changes", ["service", "at"], schema=app_schema)


def downgrade(app_schema: str | None = None) -> None:
    op.drop_index("health_changes_service_at", "health_changes", schema=app_schema)
    op.drop_table("health_changes", schema=app_schema)
