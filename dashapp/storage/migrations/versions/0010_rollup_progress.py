"""The run rollups take any key and keep their progress:
- ``crm_source`` and ``sync_type`` of ``run_hours``, ``run_days`` and ``duration_days`` become
  nullable text: a NULL key stays NULL in the rollups and '' stays '' (and a key of any length
  the user's column holds fits);
- ``rollup_state`` gains ``build_cursor`` (a build under way has rolled up every hour before it:
  a killed build resumes there) and ``last_id`` (the highest ``sync_history.id`` the rollups have
  seen: a refresh recomputes the hours of the rows after it, late runs included).

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KEYED = ("run_hours", "run_days", "duration_days")
KEYS = (("crm_source", 100), ("sync_type", 100))


def upgrade(app_schema: str | None = None) -> None:
    for name in KEYED:
        with op.batch_alter_table(name, schema=app_schema) as batch:
            for column, length in KEYS:
                if name == "duration_days" and column == "sync_type":
                    continue
                batch.alter_column(column, existing_type=sa.String(length), type_=sa.Text(), nullable=True)
    with op.batch_alter_table("rollup_state", schema=app_schema) as batch:
        batch.add_column(sa.Column("build_cursor", sa.DateTime()))
        batch.add_column(sa.Column("last_id", sa.BigInteger()))


def downgrade(app_schema: str | None = None) -> None:
    with op.batch_alter_table("rollup_state", schema=app_schema) as batch:
        batch.drop_column("last_id")
        batch.drop_column("build_cursor")
    for name in KEYED:
        op.execute(sa.text(f"DELETE FROM {f'{app_schema}.' if app_schema else ''}{name}"))  # NULL keys cannot stay
        with op.batch_alter_table(name, schema=app_schema) as batch:
            for column, length in KEYS:
                if name == "duration_days" and column == "sync_type":
                    continue
                batch.alter_column(column, existing_type=sa.Text(), type_=sa.String(length), nullable=False)
