"""The errors every layer raises or shows: a bad parameter (``queries.bad_parameter.BadParameter``, the one
typed error, answered with a 400 naming it by ``dashapp.web.http_errors``), the first line of a
database error, and a database error in its own words (``database_problem``): permission denied
(with the GRANT to run), a missing table or column (named), a statement timeout (and the setting
that raises it), or the database unavailable.

Each problem has two wordings: ``public``, for anyone (it names no host, port, role, schema or
SQL), and ``detail``, for an operator (``dashapp.auth.disclosure`` picks one per request)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from queries.bad_parameter import BadParameter
from queries.table_shape import BEAT_TABLES, PERMISSION_SHORT, USER_TABLES

__all__ = ["BadParameter", "DatabaseProblem", "database_problem", "error_line"]

# PostgreSQL's SQLSTATEs for the errors told apart
INSUFFICIENT_PRIVILEGE = "42501"
UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"
QUERY_CANCELED = "57014"  # a statement cancelled: by the statement timeout, or by hand

DATABASE_UNAVAILABLE = "database unavailable"
TIMED_OUT = ("statement timeout: the query ran longer than DB_STATEMENT_TIMEOUT_SECONDS allows (waiting on a "
             "lock counts) and was cancelled; choose a shorter range, or raise DB_STATEMENT_TIMEOUT_SECONDS")

_DENIED = re.compile(r"permission denied for (table|view|materialized view|sequence|relation|schema) \"?([^\"\s]+)\"?")
_NO_TABLE = re.compile(r"(?:relation|table) \"?([^\"\s]+)\"? does not exist|no such table: (\S+)")
_NO_COLUMN = re.compile(r"column \"?([^\"\s]+)\"?(?: of relation \"?([^\"\s]+)\"?)? does not exist"
                        r"|no such column: (\S+)")
_WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class DatabaseProblem:
    """A database error in words: ``kind`` (permission_denied, missing_table, missing_column,
    timeout, unavailable), ``public`` for anyone, ``detail`` for an operator (the cause and what to do)."""

    kind: str
    public: str
    detail: str


def error_line(exc: BaseException) -> str:
    """The first line of a database error, the driver's own words where there are some."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_problem(exc: BaseException) -> DatabaseProblem:
    """What went wrong, in words: the SQLSTATE (PostgreSQL) or the message (SQLite) decides."""
    line = error_line(exc)
    code = getattr(getattr(exc, "orig", None), "pgcode", None)
    if code == INSUFFICIENT_PRIVILEGE or (code is None and _DENIED.search(line)):
        return _denied(exc, line)
    if code == UNDEFINED_TABLE or (code is None and line.startswith("no such table")):
        return _missing_table(line)
    if code == UNDEFINED_COLUMN or (code is None and line.startswith("no such column")):
        return _missing_column(line)
    if code == QUERY_CANCELED and "statement timeout" in line:
        return DatabaseProblem("timeout", TIMED_OUT, TIMED_OUT)
    return DatabaseProblem("unavailable", DATABASE_UNAVAILABLE, line)


def _role(exc: BaseException) -> str | None:
    """The role the failed statement ran as (psycopg2 keeps the cursor on its error)."""
    try:
        return exc.orig.cursor.connection.info.user  # type: ignore[attr-defined, union-attr]
    except AttributeError:
        return None


def _schema_of(name: str, statement: str) -> str | None:
    """The schema ``name`` was qualified with in ``statement`` (``"orchestration"."sync_history"``)."""
    found = re.search(r'"?([A-Za-z_][\w$]*)"?\s*\.\s*"?' + re.escape(name) + r'"?(?![\w$])', statement or "")
    return found.group(1) if found else None


def _denied(exc: BaseException, line: str) -> DatabaseProblem:
    """Permission denied: the object, and the GRANT its owner runs (for an operator only)."""
    found = _DENIED.search(line)
    role = _role(exc)
    grantee = f'"{role}"' if role else "the app's role"
    if found is None:
        return DatabaseProblem("permission_denied", PERMISSION_SHORT, f"{line}: grant the app's role what it reads")
    what, name = found.groups()
    if what == "schema":
        grant = f'GRANT USAGE ON SCHEMA "{name}" TO {grantee};'
        return DatabaseProblem("permission_denied", PERMISSION_SHORT,
                               f"permission denied for schema {name!r}: as its owner, run {grant}")
    statement = str(getattr(exc, "statement", "") or "")
    verb = statement.lstrip().split(" ", 1)[0].upper()
    privilege = verb if verb in _WRITES else "SELECT"
    schema_name = _schema_of(name, statement)
    target = f'"{schema_name}"."{name}"' if schema_name else f'"{name}"'
    where = f" in schema {schema_name!r}" if schema_name else ""
    return DatabaseProblem("permission_denied", PERMISSION_SHORT,
                           f"permission denied for {what} {name}{where}: as its owner, run "
                           f"GRANT {privilege} ON {target} TO {grantee};")


def _missing_table(line: str) -> DatabaseProblem:
    """A missing table, named, and what makes it (the app's own: ``db upgrade``)."""
    found = _NO_TABLE.search(line)
    qualified = next((g for g in found.groups() if g), "?") if found else "?"
    name = qualified.rsplit(".", 1)[-1]
    if name in USER_TABLES:
        todo = "SYNC_SCHEMA names the schema that holds it (the warehouse's migrations create it)"
    elif name in BEAT_TABLES:
        todo = "BEAT_SCHEMA names the schema that holds django-celery-beat's tables"
    else:
        todo = "run `python app.py db upgrade` to build the app's tables"
    return DatabaseProblem("missing_table", f"table {name} does not exist (an operator sees what to do)",
                           f"table {qualified} does not exist: {todo}")


def _missing_column(line: str) -> DatabaseProblem:
    """A missing column, named (without the query's alias), with its table when the error names it."""
    found = _NO_COLUMN.search(line)
    column, relation = "?", None
    if found:
        column = (found.group(1) or found.group(3) or "?").rsplit(".", 1)[-1]
        relation = found.group(2)
    of = f" of table {relation.rsplit('.', 1)[-1]}" if relation else ""
    public = f"column {column}{of} does not exist"
    return DatabaseProblem("missing_column", public,
                           f"{public}: the table's shape changed; docs/sync-tables.md lists the columns the app reads")
