"""Run duration as the operators define it: end_time - start_time in seconds; for a running
sync, now - start_time; unknown (NaN) for a closed run with no end_time and for a run either of
whose times is ±infinity (as ``queries._sql.known_duration_sql`` says in SQL)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries.outcomes import status_class
from queries.time_bounds import INFINITY, MINUS_INFINITY


def add_duration(frame: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """``frame`` (a page of rows, never a whole table) with a ``duration_seconds`` column; a run
    is running by its ``status_class`` column when the frame has one (else the default aliases)."""
    classes = frame["status_class"] if "status_class" in frame else frame["status"].map(status_class)
    end = frame["end_time"].where(frame["end_time"].notna() | (classes != "running"), pd.Timestamp(now))
    start = frame["start_time"]
    infinite = _infinite(start) | _infinite(frame["end_time"])
    seconds = (end - start).dt.total_seconds().mask(infinite)
    return frame.assign(duration_seconds=seconds.clip(lower=0))


def _infinite(times: pd.Series) -> pd.Series:
    """True where a UTC time column (``queries._sql.to_utc``) holds ±infinity."""
    return times.isin([pd.Timestamp(INFINITY), pd.Timestamp(MINUS_INFINITY)])
