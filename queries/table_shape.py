"""Which columns the user's tables really have, read from the database, never assumed.

The user's tables come in two shapes (docs/sync-tables.md): as the warehouse's Django
migrations deploy them (``timestamptz``, crontab fields named ``minute``/``hour``/..., no
``last_run``/``next_run`` on ``sync_schedule``, django-celery-beat's tables beside them) and as an
older document describes them (``TIMESTAMP``, ``crontab_*``, ``last_run``/``next_run``). The
queries that differ between the two build their SQL from a ``Shape``.

A shape is read once per database (information_schema on PostgreSQL, PRAGMA on SQLite) and
kept; ``with_shape`` reads it again and retries once when a statement fails on a column or table
that has gone since, so a changed table costs one failed statement, never an error page.
django-celery-beat's tables are looked for in ``BEAT_SCHEMA`` (the execution option
``beat_schema``) when set, else in the first schema of the connection's search path that has them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from queries._sql import Connectable, connect, schema

BEAT_TABLES = ("django_celery_beat_periodictask", "django_celery_beat_intervalschedule",
               "django_celery_beat_crontabschedule")
USER_TABLES = ("sync_history", "sync_schedule")


@dataclass(frozen=True)
class Shape:
    """Column names per table (absent tables are missing from ``columns``) and where beat's are."""
    columns: dict[str, frozenset[str]] = field(default_factory=dict)
    beat_schema: str | None = None  # the schema holding beat's tables; "" on SQLite's main database

    def has(self, table_name: str, column: str | None = None) -> bool:
        found = self.columns.get(table_name)
        return found is not None and (column is None or column in found)

    @property
    def has_beat(self) -> bool:
        return self.has("django_celery_beat_periodictask", "id") and self.has("django_celery_beat_periodictask",
                                                                             "last_run_at")

    def beat_table(self, name: str) -> str:
        return f'"{self.beat_schema}"."{name}"' if self.beat_schema else f'"{name}"'


_lock = threading.Lock()


def _kept(conn: Connection) -> tuple[dict, tuple]:
    """Where the shape is kept: on the engine's pool (one per database; it goes with the engine),
    under the schemas it was read for."""
    pool = conn.engine.pool
    kept = getattr(pool, "_sync_monitor_shapes", None)
    if kept is None:
        kept = {}
        pool._sync_monitor_shapes = kept  # type: ignore[attr-defined]
    return kept, (schema(conn), conn.get_execution_options().get("beat_schema"))


def shape(db: Connectable) -> Shape:
    """The shape of the user's tables as this database has them (read once, then kept)."""
    with connect(db) as conn:
        kept, key = _kept(conn)
        with _lock:
            known = kept.get(key)
        if known is not None:
            return known
        found = _read_postgres(conn) if conn.dialect.name == "postgresql" else _read_sqlite(conn)
        with _lock:
            kept[key] = found
        return found


def forget(db: Connectable) -> None:
    """Drop the kept shape, so the next ``shape`` reads the tables again."""
    with connect(db) as conn:
        kept, key = _kept(conn)
        with _lock:
            kept.pop(key, None)


T = TypeVar("T")


def with_shape(db: Connectable, work: Callable[[Connection, Shape], T]) -> T:
    """``work(conn, shape)``; when it fails on a missing column or table, read the shape again
    and run it once more."""
    with connect(db) as conn:
        try:
            return work(conn, shape(conn))
        except DBAPIError as exc:
            if not _missing_object(exc):
                raise
            if conn.in_transaction():
                conn.rollback()
            forget(conn)
            return work(conn, shape(conn))


def _missing_object(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "pgcode", None)
    if code in ("42703", "42P01"):  # undefined_column, undefined_table
        return True
    message = str(exc.orig).lower()
    return "no such column" in message or "no such table" in message


def _read_postgres(conn: Connection) -> Shape:
    beat_schema = conn.get_execution_options().get("beat_schema")
    rows = conn.execute(text("""
        SELECT table_schema, table_name, column_name FROM information_schema.columns
        WHERE (table_schema = :sync AND table_name IN ('sync_history', 'sync_schedule'))
           OR (table_name IN ('django_celery_beat_periodictask', 'django_celery_beat_intervalschedule',
                              'django_celery_beat_crontabschedule')
               AND (table_schema = :beat OR (CAST(:beat AS text) IS NULL
                                             AND table_schema = ANY (current_schemas(false)))))
    """), {"sync": schema(conn), "beat": beat_schema}).all()
    search_path = [] if beat_schema else list(conn.execute(text("SELECT current_schemas(false)")).scalar_one())
    columns: dict[str, set[str]] = {}
    beat_schemas = {s for s, t, _ in rows if t in BEAT_TABLES}
    chosen = beat_schema if beat_schema else next((s for s in search_path if s in beat_schemas), None)
    for table_schema, table_name, column in rows:
        if table_name in BEAT_TABLES and table_schema != chosen:
            continue
        columns.setdefault(table_name, set()).add(column)
    return Shape({t: frozenset(c) for t, c in columns.items()}, chosen if beat_schemas else None)


def _read_sqlite(conn: Connection) -> Shape:
    columns: dict[str, frozenset[str]] = {}
    for name in USER_TABLES:
        found = {row[1] for row in conn.exec_driver_sql(f'PRAGMA "{schema(conn)}".table_info("{name}")')}
        if found:
            columns[name] = frozenset(found)
    for name in BEAT_TABLES:
        found = {row[1] for row in conn.exec_driver_sql(f'PRAGMA main.table_info("{name}")')}
        if found:
            columns[name] = frozenset(found)
    return Shape(columns, "" if any(n in columns for n in BEAT_TABLES) else None)
