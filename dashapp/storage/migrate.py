"""``python app.py db upgrade`` / ``db current``: the app's own schema, by Alembic migrations in
``dashapp/storage/migrations``. Never touches the user's schema. On PostgreSQL it needs a role that may
create the schema (once); the app itself then only reads and writes its own tables."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from queries._sql import app_db

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection, app_schema: str | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes.update(connection=connection, app_schema=app_schema)
    return config


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the app's schema to ``revision``; returns the revision it is at afterwards."""
    engine = app_db(engine)  # type: ignore[assignment]
    app_schema = engine.get_execution_options().get("app_schema")
    with engine.begin() as conn:
        if app_schema is not None:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{app_schema}"'))
        command.upgrade(_config(conn, app_schema), revision)
    return current(engine)


def head() -> str | None:
    """The newest revision in dashapp/storage/migrations."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current(engine: Engine) -> str | None:
    engine = app_db(engine)  # type: ignore[assignment]
    app_schema = engine.get_execution_options().get("app_schema")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table_schema": app_schema})
        return context.get_current_revision()
