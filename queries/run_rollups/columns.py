"""The rollup tables' key and value columns, and the keys the readers sum them by."""

from __future__ import annotations

from queries import duration_histogram

KEY = ["day", "crm_source", "sync_type", "status_class"]


COUNTS = ["runs", "records_processed", "records_created", "records_updated", "records_failed",
          "timed_runs", "timed_records", "duration_count"]


SECONDS = ["timed_seconds", "duration_sum"]


DURATIONS = duration_histogram.COLUMNS


VALUES = COUNTS + SECONDS + DURATIONS


ALL = "all"


STATE = "runs"  # rollup_state's row


DURATION_KEY = ["day", "crm_source"]


DURATION_VALUES = ["duration_count", *DURATIONS]


TIMED = ("success", "partial")  # the classes whose durations the performance page shows


DAILY = ["runs", "completed", "failed", "partial", "timed_runs", "records", "timed_records", "timed_seconds"]


DAILY_KEY = ("day", "crm_source", "sync_type")
