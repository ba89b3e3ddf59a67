"""Run duration as the operators define it: end_time - start_time in seconds; for a running
sync, now - start_time; unknown (NaN) for a closed run with no end_time."""

from __future__ import annotations

from datetime import datetime

import pandas as pd


def add_duration(frame: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """``frame`` (a page of rows, never a whole table) with a ``duration_seconds`` column."""
    end = frame["end_time"].where(
        frame["end_time"].notna() | (frame["status"] != "running"), pd.Timestamp(now)
    )
    seconds = (end - frame["start_time"]).dt.total_seconds()
    return frame.assign(duration_seconds=seconds.clip(lower=0))
