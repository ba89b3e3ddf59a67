"""Sign-in attempts kept in the app's database (used without Redis, or while it does not answer),
so that every worker process reserves its attempts against the same rows; and counted audit
summaries: ``audit_log`` gains ``repeats`` (how many requests one row stands for, 1 for an
ordinary row) and ``summary_key`` (one summary row per source, actor, action, result, detail and
minute; NULL for an ordinary row).

Revision ID: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade(app_schema: str | None = None) -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("window_ends", sa.DateTime(), nullable=False),
        sa.Column("last_failure", sa.DateTime()),
        schema=app_schema,
    )
    op.create_index("sign_in_attempts_window_ends", "sign_in_attempts", ["window_ends"], schema=app_schema)
    with op.batch_alter_table("audit_log", schema=app_schema) as batch:
        batch.add_column(sa.Column("repeats", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("summary_key", sa.String(64)))
    op.create_index("audit_log_summary_key", "audit_log", ["summary_key"], unique=True, schema=app_schema)


def downgrade(app_schema: str | None = None) -> None:
    op.drop_index("audit_log_summary_key", "audit_log", schema=app_schema)
    with op.batch_alter_table("audit_log", schema=app_schema) as batch:
        batch.drop_column("summary_key")
        batch.drop_column("repeats")
    op.drop_index("sign_in_attempts_window_ends", "sign_in_attempts", schema=app_schema)
    op.drop_table("sign_in_attempts", schema=app_schema)
