"""Alerts (one row per firing of a rule on a subject, resolved when the rule stops finding it)
and their notifications, one row per channel and event, retried until sent.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade(app_schema: str | None = None) -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    op.create_table(
        "alerts",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("fired_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime()),
        sa.Column("resolved_by", sa.String(100)),
        sa.Column("resolve_note", sa.Text()),
        sa.Column("acknowledged_by", sa.String(100)),
        sa.Column("acknowledged_at", sa.DateTime()),
        schema=app_schema,
    )
    # at most one firing alert per rule and subject: the de-duplication holds even if two
    # evaluations ever ran at once
    op.create_index("alerts_one_firing", "alerts", ["rule", "subject"], unique=True, schema=app_schema,
                    postgresql_where=sa.text("state = 'firing'"), sqlite_where=sa.text("state = 'firing'"))
    op.create_index("alerts_fired_at", "alerts", ["fired_at"], schema=app_schema)
    op.create_table(
        "alert_notifications",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(12), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_try_at", sa.DateTime()),
        sa.Column("sent_at", sa.DateTime()),
        schema=app_schema,
    )
    op.create_index("alert_notifications_due", "alert_notifications", ["status", "next_try_at"], schema=app_schema)
    op.create_index("alert_notifications_alert", "alert_notifications", ["alert_id"], schema=app_schema)


def downgrade(app_schema: str | None = None) -> None:
    op.drop_table("alert_notifications", schema=app_schema)
    op.drop_table("alerts", schema=app_schema)
