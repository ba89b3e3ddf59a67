"""Per-day aggregates of days that no longer change, kept in memory so a refresh only asks the
database for the last two days.

A day is closed once it ended ``settle`` seconds ago (an hour): runs that started on it and
finish late are then almost all in. Closed days are kept for ``ttl`` seconds (an hour), which
also picks up the rare run that finishes later still. One cache per process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, date, datetime, timedelta

import pandas as pd


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class DayCache:
    def __init__(self, ttl: float = 3600.0, settle: float = 3600.0, max_entries: int = 5000) -> None:
        self.ttl = ttl
        self.settle = timedelta(seconds=settle)
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, tuple[float, dict[str, pd.DataFrame]]] = OrderedDict()
        self._lock = threading.Lock()

    def frames(self, key: Hashable, days: list[date], now: datetime,
               compute: Callable[[datetime, datetime], dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
        """The frames (each with a 'day' column, 'YYYY-MM-DD') for ``days``: cached closed days
        from memory, the rest from one ``compute(start, end)`` call over the days from the first
        missing one through ``now``."""
        closed_before = (now - self.settle).date()  # days before this one have settled
        cached: list[dict[str, pd.DataFrame]] = []
        first_missing = None
        with self._lock:
            for day in days:
                entry = self._entries.get((key, day))
                if day < closed_before and entry and time.monotonic() - entry[0] < self.ttl:
                    cached.append(entry[1])
                    continue
                first_missing = day
                break
        fresh: dict[str, pd.DataFrame] = {}
        if first_missing is not None:
            fresh = compute(day_start(first_missing), now)
            self._store(key, [d for d in days if first_missing <= d < closed_before], fresh)
        names = fresh.keys() if fresh else (cached[0].keys() if cached else ())
        return {name: pd.concat([part[name] for part in cached] + ([fresh[name]] if fresh else []),
                                ignore_index=True) for name in names}

    def _store(self, key: Hashable, days: list[date], fresh: dict[str, pd.DataFrame]) -> None:
        stamp = time.monotonic()
        with self._lock:
            for day in days:
                label = day.isoformat()
                self._entries[(key, day)] = (stamp, {n: f[f["day"] == label] for n, f in fresh.items()})
                self._entries.move_to_end((key, day))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


DAYS = DayCache()  # closed days of the performance aggregates


def window_days(days: int, now: datetime) -> list:
    """The ``days`` calendar days (UTC) ending today."""
    today = now.date()
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
