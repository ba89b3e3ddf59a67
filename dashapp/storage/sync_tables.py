"""The user's two tables, column for column as ``docs/sync-tables.md`` gives them.

Defined in ``queries/_sync_tables.py`` (the writers' statements in ``queries/`` use them, and
``queries/`` imports nothing of dashapp); re-exported here for the start-up check, the tests and
the benchmarks. The schema is written as ``orchestration`` and mapped onto ``SYNC_SCHEMA`` at
execution time (see ``dashapp.storage.db.schema_map``).
"""

from __future__ import annotations

from queries._sync_tables import DEFAULT_SCHEMA, metadata, sync_history, sync_schedule

__all__ = ["DEFAULT_SCHEMA", "metadata", "sync_history", "sync_schedule"]
