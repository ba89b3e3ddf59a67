"""What the database says about itself, for the health probe: latency, connections, version."""

from __future__ import annotations

import time

from sqlalchemy import Connection, text

from queries._sql import schema


def ping_ms(conn: Connection) -> float:
    started = time.perf_counter()
    conn.execute(text("SELECT 1")).scalar_one()
    return round((time.perf_counter() - started) * 1000, 2)


def details(conn: Connection) -> dict:
    """PostgreSQL: connections to this database and the server version; SQLite: the demo file's
    journal mode and page count times page size."""
    if conn.dialect.name == "postgresql":
        return {
            "connection_count": int(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")).scalar_one()),
            "server_version": str(conn.execute(text("SHOW server_version")).scalar_one()),
        }
    name = schema(conn)
    pages = conn.execute(text(f'PRAGMA "{name}".page_count')).scalar_one()
    size = conn.execute(text(f'PRAGMA "{name}".page_size')).scalar_one()
    return {
        "connection_count": None,
        "server_version": "SQLite " + str(conn.execute(text("SELECT sqlite_version()")).scalar_one()),
        "journal_mode": str(conn.execute(text(f'PRAGMA "{name}".journal_mode')).scalar_one()),
        "file_size_mb": round(pages * size / 1e6, 2),
    }
