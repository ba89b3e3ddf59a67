"""The numbers behind the overview, as the JSON the API serves and the page renders.

Each function runs the query functions from ``queries/`` and shapes their DataFrames into the
structures of shared/reference/json-api.md. The page feeds the same records to its cards and
grid, so the screen and ``/api/...`` cannot disagree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from dashapp import display
from queries.crm_status import crm_status
from queries.overview import overview_counts
from queries.recent_syncs import recent_syncs


def stats(engine: Engine, now: datetime) -> dict:
    return {"overview": overview_counts(engine, now).as_dict(), "timestamp": display.iso_utc(now)}


def crm_statuses(engine: Engine, now: datetime) -> dict:
    frame = crm_status(engine, now)
    return {
        "crms": [
            {
                "name": display.crm_name(row["crm_source"]),
                "crm_source": row["crm_source"],
                "sync_type": row["sync_type"],
                "last_sync": display.iso_utc(row["start_time"]),
                "status": display.text(row["status"]),
                "records_processed": display.count(row["records_processed"]),
                "records_created": display.count(row["records_created"]),
                "records_updated": display.count(row["records_updated"]),
                "records_failed": display.count(row["records_failed"]),
                "duration_seconds": display.seconds(row["duration_seconds"]),
                "next_sync": display.iso_utc(row["next_sync"]),
                "next_sync_note": display.text(row["next_sync_note"]),
            }
            for row in frame.to_dict("records")
        ]
    }


def recent(engine: Engine, limit: int, now: datetime) -> dict:
    frame = recent_syncs(engine, limit, now)
    syncs = [
        {
            "id": int(row["id"]),
            "crm_source": row["crm_source"],
            "sync_type": row["sync_type"],
            "status": display.text(row["status"]),
            "start_time": display.iso_utc(row["start_time"]),
            "end_time": display.iso_utc(row["end_time"]),
            "duration_seconds": display.seconds(row["duration_seconds"]),
            "records_processed": display.count(row["records_processed"]),
            "records_created": display.count(row["records_created"]),
            "records_updated": display.count(row["records_updated"]),
            "records_failed": display.count(row["records_failed"]),
            "error_message": display.text(row["error_message"]),
        }
        for row in frame.to_dict("records")
    ]
    return {"syncs": syncs, "total": len(syncs)}
