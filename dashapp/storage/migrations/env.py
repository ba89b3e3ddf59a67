"""Alembic environment for the app's own schema. Run through ``dashapp.storage.migrate`` (``python app.py
db upgrade``), which hands over a connection and the schema in ``config.attributes``."""

from alembic import context

config = context.config
connection = config.attributes["connection"]
app_schema = config.attributes["app_schema"]  # None on SQLite: plain tables

context.configure(
    connection=connection,
    version_table="alembic_version",
    version_table_schema=app_schema,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations(app_schema=app_schema)
