"""All of Sync Monitor's SQL, reads and writes. Each function takes an engine or a connection and
plain parameters and returns a DataFrame, rows or a small value; aggregation happens in the
database. A writer whose statements must share its caller's transaction takes the caller's
Connection; the Core tables the writers use are in ``_app_tables`` and ``_sync_tables``."""
