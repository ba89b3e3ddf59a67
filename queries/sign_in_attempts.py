"""Sign-in attempts in the app's ``sign_in_attempts`` table: the store of
``dashapp/auth/sign_in_limit.py`` without Redis. A reservation locks the attempt's rows (in key
order, so two reservations never wait on each other crosswise), the caller decides, and writes the
new counts in the same transaction. Times are naive UTC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from queries._app_tables import sign_in_attempts
from queries._sql import Connectable, app_db, begin

Row = tuple[int, datetime, datetime | None]  # failures, window end, last failure
EPOCH = datetime(1970, 1, 1)


def locked(conn: Connection, keys: list[str]) -> dict[str, Row]:
    """The rows of ``keys``, made (at 0 failures) where missing and locked until ``conn``'s
    transaction ends: FOR UPDATE on PostgreSQL; on SQLite the insert takes the database's write
    lock first."""
    keys = sorted(set(keys))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(sign_in_attempts)
                 .values([{"key": k, "failures": 0, "window_ends": EPOCH} for k in keys])
                 .on_conflict_do_nothing(index_elements=["key"]))
    query = (select(sign_in_attempts.c.key, sign_in_attempts.c.failures, sign_in_attempts.c.window_ends,
                    sign_in_attempts.c.last_failure)
             .where(sign_in_attempts.c.key.in_(keys)).order_by(sign_in_attempts.c.key))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.key: (int(row.failures), row.window_ends, row.last_failure) for row in conn.execute(query)}


def store(conn: Connection, rows: dict[str, Row]) -> None:
    """Write the counts of rows ``locked`` returned, in the same transaction."""
    for key, (failures, window_ends, last_failure) in rows.items():
        conn.execute(update(sign_in_attempts).where(sign_in_attempts.c.key == key)
                     .values(failures=failures, window_ends=window_ends, last_failure=last_failure))


def release(db: Connectable, key: str) -> None:
    """One reserved attempt of ``key`` did not fail (the right password): it no longer counts."""
    with begin(app_db(db)) as conn:
        conn.execute(update(sign_in_attempts)
                     .where(sign_in_attempts.c.key == key, sign_in_attempts.c.failures > 0)
                     .values(failures=sign_in_attempts.c.failures - 1))


def forget(db: Connectable, keys: list[str]) -> None:
    with begin(app_db(db)) as conn:
        conn.execute(delete(sign_in_attempts).where(sign_in_attempts.c.key.in_(keys)))


def forget_ended(db: Connectable, before: datetime) -> int:
    """Delete the rows whose window ended before ``before``; returns how many."""
    with begin(app_db(db)) as conn:
        return conn.execute(delete(sign_in_attempts).where(sign_in_attempts.c.window_ends < before)).rowcount
