"""Which columns the user's tables really have, read from the database, never assumed.

The user's tables come in two shapes (docs/sync-tables.md): as the warehouse's Django
migrations deploy them (``timestamptz``, crontab fields named ``minute``/``hour``/..., no
``last_run``/``next_run`` on ``sync_schedule``, django-celery-beat's tables beside them) and as an
older document describes them (``TIMESTAMP``, ``crontab_*``, ``last_run``/``next_run``). The
queries that differ between the two build their SQL from a ``Shape``.

A shape is read once per database (information_schema on PostgreSQL, PRAGMA on SQLite) and
kept; ``with_shape`` reads it again and retries once when a statement fails on a column or table
that has gone since, so a changed table costs one failed statement, never an error page.
django-celery-beat's tables are looked for wherever they are (the warehouse's Django creates them in
the first schema of its own search path, ``django``, which the app's role need not have): in
``BEAT_SCHEMA`` (the execution option ``beat_schema``) when set; else in the first schema of the
connection's search path that has them; else in any schema of the database, readable ones first
and, of several, the one whose tasks ran last. ``Shape.beat_note`` says where they were found and
why that copy; ``Shape.beat_problem`` says what stops the app reading them (with the GRANT to run).
``sync_history`` and ``sync_schedule`` are looked up in pg_catalog too: information_schema hides
a table the role may not read, so a revoked SELECT would read as "does not exist";
``Shape.table_problems`` says "permission denied" with the GRANT instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from queries._sql import Connectable, connect, schema

BEAT_TASK = "django_celery_beat_periodictask"
BEAT_TABLES = (BEAT_TASK, "django_celery_beat_intervalschedule", "django_celery_beat_crontabschedule",
               "django_celery_beat_clockedschedule", "django_celery_beat_solarschedule")
USER_TABLES = ("sync_history", "sync_schedule")


@dataclass(frozen=True)
class Shape:
    """Column names per table (absent tables are missing from ``columns``) and where beat's are."""
    columns: dict[str, frozenset[str]] = field(default_factory=dict)
    beat_schema: str | None = None  # the schema holding beat's tables; "" on SQLite's main database
    beat_note: str | None = None  # where beat's tables were found, and why there
    beat_problem: str | None = None  # what stops the app reading them (permission denied: the GRANT)
    table_problems: dict[str, str] = field(default_factory=dict)  # a user table the role may not read: the GRANT

    def has(self, table_name: str, column: str | None = None) -> bool:
        found = self.columns.get(table_name)
        return found is not None and (column is None or column in found)

    @property
    def has_beat(self) -> bool:
        return self.has("django_celery_beat_periodictask", "id") and self.has("django_celery_beat_periodictask",
                                                                             "last_run_at")

    def beat_table(self, name: str) -> str:
        return f'"{self.beat_schema}"."{name}"' if self.beat_schema else f'"{name}"'


PERMISSION_SHORT = "permission denied (an operator sees which tables and what to grant)"


def without_grant(text: str | None, found: Shape) -> str | None:
    """``text`` with the role, tables and GRANT of ``found.beat_problem`` and of each of
    ``found.table_problems`` cut to "permission denied": for anyone but an operator, and for
    alerts, which anyone may read."""
    for problem in (found.beat_problem, *found.table_problems.values()):
        if text and problem:
            text = text.replace(problem, PERMISSION_SHORT)
    return text


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
    rows = conn.execute(text("""
        SELECT table_schema, table_name, column_name FROM information_schema.columns
        WHERE table_schema = :sync AND table_name IN ('sync_history', 'sync_schedule')
    """), {"sync": schema(conn)}).all()
    columns: dict[str, set[str]] = {}
    for _, table_name, column in rows:
        columns.setdefault(table_name, set()).add(column)
    beat_schema, note, problem = _find_beat(conn)
    if beat_schema is not None and problem is None:
        for _, table_name, column in conn.execute(text("""
                SELECT table_schema, table_name, column_name FROM information_schema.columns
                WHERE table_schema = :beat AND table_name = ANY (:names)"""),
                {"beat": beat_schema, "names": list(BEAT_TABLES)}).all():
            columns.setdefault(table_name, set()).add(column)
    return Shape({t: frozenset(c) for t, c in columns.items()}, beat_schema, note, problem,
                 _unreadable_user_tables(conn))


def _unreadable_user_tables(conn: Connection) -> dict[str, str]:
    """``sync_history`` and ``sync_schedule`` where they exist but the role may not read them
    (pg_catalog shows them; information_schema does not): table -> "permission denied" and the GRANT."""
    sync_schema = schema(conn)
    found = conn.execute(text("""
        SELECT c.relname, has_schema_privilege(n.oid, 'USAGE') AS usable,
               has_table_privilege(c.oid, 'SELECT') AS readable
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :sync AND c.relname = ANY (:names) AND c.relkind IN ('r', 'v', 'm', 'p', 'f')"""),
        {"sync": sync_schema, "names": list(USER_TABLES)}).all()
    unreadable = {name: usable for name, usable, readable in found if not (usable and readable)}
    if not unreadable:
        return {}
    role = conn.execute(text("SELECT current_user")).scalar_one()
    problems = {}
    for name, usable in unreadable.items():
        grant = "" if usable else f'GRANT USAGE ON SCHEMA "{sync_schema}" TO "{role}"; '
        problems[name] = (f"permission denied for table {name} in schema {sync_schema!r}: as the table's owner, "
                          f'run {grant}GRANT SELECT ON "{sync_schema}".{name} TO "{role}";')
    return problems


def _find_beat(conn: Connection) -> tuple[str | None, str | None, str | None]:
    """(the schema of beat's tables, where and why, what stops reading them). pg_catalog shows
    tables the role may not read (information_schema hides them), so "permission denied" is told
    apart from "does not exist"."""
    override = conn.get_execution_options().get("beat_schema")
    search_path = list(conn.execute(text("SELECT current_schemas(false)")).scalar_one())
    found = conn.execute(text("""
        SELECT n.nspname, c.relname,
               has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') AS readable
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relname = ANY (:names) AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
        ORDER BY n.nspname"""), {"names": list(BEAT_TABLES)}).all()
    tables: dict[str, dict[str, bool]] = {}
    for schema_name, table_name, readable in found:
        tables.setdefault(schema_name, {})[table_name] = bool(readable)
    candidates = [s for s, t in tables.items() if BEAT_TASK in t]
    if override:
        if override not in candidates:
            return None, f"BEAT_SCHEMA is {override!r}, which has no {BEAT_TASK}", None
        chosen, why = override, "set by BEAT_SCHEMA"
    elif not candidates:
        return None, f"no {BEAT_TASK} in any schema of this database", None
    else:
        on_path = [s for s in search_path if s in candidates]
        if on_path:
            chosen, why = on_path[0], "the first on the search path"
        else:
            chosen, why = _liveliest(conn, candidates, tables)
    unreadable = [t for t, readable in tables[chosen].items() if not readable]
    note = f"beat's tables in schema {chosen!r} ({why})"
    others = [s for s in candidates if s != chosen]
    if others:
        note += f"; also found in {', '.join(repr(s) for s in others)}, not used"
    if unreadable:
        role = conn.execute(text("SELECT current_user")).scalar_one()
        grants = (f'GRANT USAGE ON SCHEMA "{chosen}" TO "{role}"; GRANT SELECT ON '
                  + ", ".join(f'"{chosen}".{t}' for t in BEAT_TABLES if t in tables[chosen]) + f' TO "{role}";')
        return chosen, note, (f"permission denied for {', '.join(unreadable)} in schema {chosen!r}: "
                              f"as the tables' owner, run {grants}")
    return chosen, note, None


def _liveliest(conn: Connection, candidates: list[str], tables: dict[str, dict[str, bool]]) -> tuple[str, str]:
    """Of several schemas with beat's tables off the search path: a readable one, and of those
    the one whose tasks were sent last (a live beat writes ``last_run_at``)."""
    readable = [s for s in candidates if tables[s].get(BEAT_TASK)]
    if not readable:
        return candidates[0], "the only one found" if len(candidates) == 1 else "the first by name; none is readable"
    if len(readable) == 1:
        return readable[0], ("off the search path, the only copy" if len(candidates) == 1
                             else "off the search path, the only readable copy")
    latest = {}
    for name in readable:
        latest[name] = conn.execute(text(
            f'SELECT max(last_run_at) FROM "{name}".{BEAT_TASK}')).scalar_one()  # names from pg_catalog
    ran = [s for s in readable if latest[s] is not None]
    if not ran:
        return readable[0], "off the search path; none has run a task, the first by name"
    chosen = max(ran, key=lambda s: latest[s])
    return chosen, f"off the search path; its tasks ran last, at {latest[chosen]:%Y-%m-%d %H:%M %Z}".rstrip()


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
    if BEAT_TASK not in columns:
        return Shape(columns, None, f"no {BEAT_TASK} in this database")
    return Shape(columns, "", "beat's tables in the main database")
