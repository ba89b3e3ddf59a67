"""One run as a row of a table: the overview's recent activity, the history grid and their JSON
carry the same record."""

from __future__ import annotations

from dashapp import display
from queries import messages


def counts(row: dict) -> dict:
    return {name: display.count(row[name])
            for name in ("records_processed", "records_created", "records_updated", "records_failed")}


def run_record(row: dict, error_column: str = "error_message") -> dict:
    """One run as the JSON and the grids carry it (``error_column``: the message or an excerpt)."""
    return {
        "id": int(row["id"]),
        "crm_source": row["crm_source"],
        "sync_type": row["sync_type"],
        "status": display.text(row["status"]),
        "status_class": display.text(row.get("status_class")),
        "start_time": display.iso_utc(row["start_time"]),
        "end_time": display.iso_utc(row["end_time"]),
        "duration_seconds": display.seconds(row["duration_seconds"]),
        **counts(row),
        **messages.fields("error_message", row[error_column], row.get(f"{error_column}_length")),
    }
