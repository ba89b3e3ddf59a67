"""Writing recorded CRM API calls and circuit-breaker transitions (the app's ``api_calls``,
``api_call_minutes``, ``api_call_hours`` and ``circuit_breaker_events`` tables): what the batched
writer of ``dashapp/recording/crm_calls.py`` runs for each batch. ``queries.crm_api_usage`` reads
them back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, func, insert

from queries import latency_histogram
from queries._app_tables import api_call_hours, api_call_minutes, api_calls, breaker_events
from queries._sql import Connectable, begin


def write_batch(db: Connectable, calls: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """In one transaction on ``db`` (the app's database): insert ``calls`` (api_calls rows, times
    naive UTC) and add them to the minute and hour rollups, and insert ``events``
    (circuit_breaker_events rows)."""
    with begin(db) as conn:
        if calls:
            conn.execute(insert(api_calls), calls)
            _add_to_rollup(conn, calls, api_call_minutes, minute=True)
            _add_to_rollup(conn, calls, api_call_hours, minute=False)
        if events:
            conn.execute(insert(breaker_events), events)


def _add_to_rollup(conn: Connection, rows: list[dict[str, Any]], table: Table, minute: bool) -> None:
    """Add a batch to a rollup (an upsert per period, CRM and endpoint)."""
    groups: dict[tuple, dict] = {}
    for row in rows:
        period = row["called_at"].replace(second=0, microsecond=0)
        key = (period if minute else period.replace(minute=0), row["crm_source"], row["endpoint"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = {"minute": key[0], "crm_source": key[1], "endpoint": key[2], "calls": 0,
                                   "successes": 0, "client_errors": 0, "server_errors": 0, "no_response": 0,
                                   "retries": 0, "duration_sum": 0.0, "remaining_min": None,
                                   **dict.fromkeys(latency_histogram.COLUMNS, 0)}
        status = row["status_code"]
        group["calls"] += 1
        if status is None:
            group["no_response"] += 1
        elif status < 400:
            group["successes"] += 1
        elif status < 500:
            group["client_errors"] += 1
        else:
            group["server_errors"] += 1
        group["retries"] += row["retries"] or 0
        remaining = row["rate_limit_remaining"]
        if remaining is not None and (group["remaining_min"] is None or remaining < group["remaining_min"]):
            group["remaining_min"] = remaining
        group["duration_sum"] += row["duration_ms"]
        group[latency_histogram.COLUMNS[latency_histogram.bucket(row["duration_ms"])]] += 1
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    statement = upsert(table)
    added = [c for c in table.c if c.name not in ("minute", "crm_source", "endpoint", "remaining_min")]
    new, old = statement.excluded.remaining_min, table.c.remaining_min
    lowest = (func.least(old, new) if conn.dialect.name == "postgresql"  # LEAST skips NULLs
              else func.min(func.coalesce(old, new), func.coalesce(new, old)))
    statement = statement.on_conflict_do_update(
        index_elements=["minute", "crm_source", "endpoint"],
        set_={**{c.name: c + statement.excluded[c.name] for c in added}, "remaining_min": lowest})
    conn.execute(statement, list(groups.values()))
