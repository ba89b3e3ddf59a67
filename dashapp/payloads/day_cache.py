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
from datetime import UTC, date, datetime, timedelta, tzinfo

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


DAYS = DayCache()  # closed days of the performance and errors aggregates
ONE_DAY = timedelta(days=1)


def window_frames(cache: DayCache, key: Hashable, start: datetime, end: datetime,
                  compute: Callable[[datetime, datetime], dict[str, pd.DataFrame]],
                  zone: tzinfo = UTC) -> dict[str, pd.DataFrame]:
    """The frames (each with a 'day' column) of the rows in [start, end), per calendar day: a
    first day that starts before ``start`` is read on its own (never cached), the whole days after
    it through ``cache``, the last one up to ``end``. The cache keeps UTC days: data whose days are
    another ``zone``'s (``queries.performance.data_zone``) is read in one statement, uncached, so
    that no day of its is split in two."""
    if utc_offset(zone, start) or utc_offset(zone, end):
        return compute(start, end)
    first_whole = day_start(start.date())
    parts = []
    if first_whole < start:
        first_whole += ONE_DAY
        parts.append(compute(start, min(first_whole, end)))
    if first_whole < end:
        parts.append(cache.frames(key, window_days(first_whole, end), end, compute))
    if not parts:  # an empty window
        parts.append(compute(start, end))
    return {name: pd.concat([part[name] for part in parts], ignore_index=True) for name in parts[0]}


def utc_offset(zone: tzinfo, moment: datetime) -> timedelta:
    """``zone``'s offset from UTC at ``moment`` (zero for UTC)."""
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def window_days(first: datetime, end: datetime) -> list[date]:
    """The calendar days (UTC) from the day of ``first`` to the one holding the instant before ``end``."""
    last = (end - timedelta(microseconds=1)).date()
    return [first.date() + timedelta(days=n) for n in range((last - first.date()).days + 1)]
