"""What the database says about itself, for the health probe: latency, connections, version."""

from __future__ import annotations

import time

from sqlalchemy import Connection, text

from queries._sql import schema, table


def ping_ms(conn: Connection) -> float:
    started = time.perf_counter()
    conn.execute(text("SELECT 1")).scalar_one()
    return round((time.perf_counter() - started) * 1000, 2)


# PostgreSQL's own figures, each read by one bounded catalogue query; a monitoring role
# (pg_monitor) sees every session in pg_stat_activity, any other role only its own.
_POSTGRES = """
SELECT
    pg_database_size(current_database()) AS database_bytes,
    (SELECT count(*) FROM pg_stat_activity) AS connections_used,
    current_setting('max_connections')::int AS max_connections,
    (SELECT CASE WHEN blks_hit + blks_read = 0 THEN NULL
                 ELSE blks_hit::float / (blks_hit + blks_read) END
       FROM pg_stat_database WHERE datname = current_database()) AS cache_hit_ratio,
    (SELECT blks_hit + blks_read FROM pg_stat_database WHERE datname = current_database()) AS block_reads,
    (SELECT EXTRACT(EPOCH FROM max(clock_timestamp() - query_start)) FROM pg_stat_activity
       WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
         AND datname = current_database()) AS longest_query_seconds,
    (SELECT count(*) FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND datname = current_database()) AS lock_waits
"""


def postgres_figures(conn: Connection) -> dict:
    """Database size, sync_history's size (table, indexes and TOAST), connections in use against
    max_connections, the buffer cache hit ratio, the longest running query (its age, not its text)
    and the sessions waiting on a lock."""
    row = conn.execute(text(_POSTGRES)).mappings().one()
    history_bytes = conn.execute(text("SELECT pg_total_relation_size(to_regclass(:name))"),
                                 {"name": table(conn, "sync_history")}).scalar()
    ratio = row["cache_hit_ratio"]
    longest = row["longest_query_seconds"]
    return {
        "database_size_mb": round(int(row["database_bytes"]) / 1e6, 1),
        "sync_history_size_mb": None if history_bytes is None else round(int(history_bytes) / 1e6, 1),
        "connections_used": int(row["connections_used"]),
        "max_connections": int(row["max_connections"]),
        "cache_hit_ratio": None if ratio is None else round(float(ratio), 4),
        "cache_block_reads": int(row["block_reads"] or 0),
        "longest_query_seconds": None if longest is None else round(float(longest), 1),
        "lock_waits": int(row["lock_waits"]),
    }


def details(conn: Connection) -> dict:
    """PostgreSQL: connections to this database, the server version and ``postgres_figures``;
    SQLite: the demo file's journal mode and page count times page size."""
    if conn.dialect.name == "postgresql":
        return {
            "connection_count": int(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")).scalar_one()),
            "server_version": str(conn.execute(text("SHOW server_version")).scalar_one()),
            **postgres_figures(conn),
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
