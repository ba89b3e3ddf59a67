"""Engines for the warehouse (PostgreSQL) and the embedded demo (SQLite), and the start-up check.

Every connection is set up the same way whatever the backend:
- on PostgreSQL the session time zone is the zone the user's naive TIMESTAMP columns hold
  (``SYNC_TIMEZONE``, UTC by default), so ``timestamptz`` columns compare correctly too, whatever
  zone the database or the role defaults to;
- on PostgreSQL every time is a value: ±infinity and years PostgreSQL holds beyond Python's
  1..9999 never raise (``pg_times``: the casters and what they return);
- on SQLite, which has no schemas, the demo file is ATTACHed under the schema name, so the same
  ``orchestration.sync_history`` SQL runs on both.
The schema name travels with the engine as the execution option ``sync_schema``; the query
functions read it from there (``queries._sql.table``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from dashapp.config import Settings
from dashapp.errors import error_line
from dashapp.storage import pg_times
from dashapp.storage.sync_tables import DEFAULT_SCHEMA
from queries._app_tables import APP_DEFAULT_SCHEMA


class StartupError(RuntimeError):
    """The app cannot start; the message is one line naming what is missing."""


def schema_map(schema: str, app_schema: str | None = APP_DEFAULT_SCHEMA) -> dict[str, str | None]:
    """The ``schema_translate_map`` that points the Core tables at ``schema`` (the user's) and
    ``app_schema`` (the app's own; None on SQLite, whose app tables are plain tables)."""
    return {DEFAULT_SCHEMA: schema, APP_DEFAULT_SCHEMA: app_schema}


def app_file(path: Path) -> Path:
    """The SQLite file of the app's own tables, beside the sync file."""
    return path.with_name(path.stem + "-monitor" + path.suffix)


def sqlite_engine(path: Path, schema: str, sync_timezone: str = "UTC", **options: object) -> Engine:
    """A pooled engine whose connections see ``path`` as database ``schema``, with the app's own
    tables as plain tables in the main database (``app_file(path)``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    main = app_file(path)

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(str(main), check_same_thread=False, timeout=30)
        conn.execute("ATTACH DATABASE ? AS " + _quote(schema), (str(path),))
        conn.execute(f"PRAGMA {_quote(schema)}.journal_mode=WAL")
        conn.execute("PRAGMA main.journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    engine = create_engine("sqlite://", creator=connect, poolclass=QueuePool, pool_size=5)
    return _with_options(engine, schema, sync_timezone, None, **options)


def postgres_engine(url: str, schema: str, sync_timezone: str = "UTC", app_schema: str = APP_DEFAULT_SCHEMA,
                    db_statement_timeout_seconds: float = 0, *, status_aliases: object = None,
                    beat_schema: str | None = None, **kwargs: object) -> Engine:
    """A pooled, pre-pinging engine whose sessions run in ``sync_timezone``; with
    ``db_statement_timeout_seconds``, PostgreSQL cancels any statement that runs longer (waiting for
    a lock included), so a slow database fails one panel in seconds instead of hanging the page."""
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    engine = create_engine(psycopg2_url(url), pool_pre_ping=True, **kwargs)

    @event.listens_for(engine, "connect")
    def _set_zone(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        pg_times.register(dbapi_conn)  # ±infinity and years past 1..9999 are values, never errors
        cur = dbapi_conn.cursor()
        cur.execute("SET TIME ZONE %s", (sync_timezone,))
        if db_statement_timeout_seconds > 0:
            cur.execute("SET statement_timeout = %s", (max(1, round(db_statement_timeout_seconds * 1000)),))
        cur.close()
        dbapi_conn.commit()

    return _with_options(engine, schema, sync_timezone, app_schema, status_aliases=status_aliases,
                         beat_schema=beat_schema)


def psycopg2_url(url: str) -> URL:
    """``postgresql://`` and ``postgres://`` URLs use psycopg2, the driver Sync Monitor ships
    (SQLAlchemy 2.1 would otherwise look for psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def _with_options(engine: Engine, schema: str, sync_timezone: str, app_schema: str | None,
                  status_aliases: object = None, beat_schema: str | None = None) -> Engine:
    """The settings every query reads from its connection: schemas, the data zone, the status
    aliases (``STATUS_ALIASES``; None: the defaults) and where beat's tables are (``BEAT_SCHEMA``;
    None: the search path)."""
    options: dict[str, object] = {"sync_schema": schema, "app_schema": app_schema, "sync_timezone": sync_timezone,
                                  "schema_translate_map": schema_map(schema, app_schema), "beat_schema": beat_schema}
    if status_aliases is not None:
        options["status_aliases"] = tuple(status_aliases)  # type: ignore[call-overload]
    return engine.execution_options(**options)


def make_engine(settings: Settings, *, serving: bool = False) -> Engine:
    """The engine for ``settings``; ``serving``: the web app's, whose statements are cut off after
    DB_STATEMENT_TIMEOUT_SECONDS (the CLI's migrations and the worker's runs are not). With
    MONITOR_DATABASE_URL, the engine carries the app's own database as the execution option
    ``monitor_engine`` (``queries._sql.app_db`` finds it), and the warehouse is only read."""
    options = {"status_aliases": settings.status_aliases, "beat_schema": settings.beat_schema}
    if settings.embedded:
        engine = sqlite_engine(settings.sqlite_path, settings.sync_schema, settings.sync_timezone, **options)
    else:
        engine = _url_engine("DATABASE_URL", settings.database_url or "", settings, serving, options)
    if settings.monitor_database_url and settings.monitor_database_url != settings.database_url:
        monitor = _url_engine("MONITOR_DATABASE_URL", settings.monitor_database_url, settings, serving, options,
                              app_only=True)
        engine = engine.execution_options(monitor_engine=monitor)
    return engine


def _url_engine(name: str, url: str, settings: Settings, serving: bool, options: dict,
                app_only: bool = False) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if not path or path == ":memory:":
            raise StartupError(f"{name}: a SQLite URL needs a file path, e.g. sqlite:////tmp/sync.db")
        if app_only:
            return sqlite_app_engine(Path(path).resolve(), settings.sync_schema, settings.sync_timezone)
        return sqlite_engine(Path(path).resolve(), settings.sync_schema, settings.sync_timezone, **options)
    try:
        return postgres_engine(url, settings.sync_schema, settings.sync_timezone, settings.app_schema,
                               settings.db_statement_timeout_seconds if serving else 0, **options)
    except (ArgumentError, ImportError, ValueError) as exc:
        raise StartupError(f"{name} is not a usable database URL: {exc}") from None


def sqlite_app_engine(path: Path, schema: str, sync_timezone: str = "UTC") -> Engine:
    """A SQLite file that holds only the app's own tables (MONITOR_DATABASE_URL=sqlite:///...)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    engine = create_engine("sqlite://", creator=connect, poolclass=QueuePool, pool_size=5)
    return _with_options(engine, schema, sync_timezone, None)


def check_database(engine: Engine, schema: str) -> None:
    """Raise StartupError unless the database answers and holds ``schema.sync_history``."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("sync_history", schema=schema):
                raise StartupError(
                    f"table {schema}.sync_history not found in {engine.url!r}"
                    " (set SYNC_SCHEMA if it lives in another schema)"
                )
    except StartupError:
        raise
    except SQLAlchemyError as exc:
        raise StartupError(f"cannot reach the database at {engine.url!r}: {error_line(exc)}") from None


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
