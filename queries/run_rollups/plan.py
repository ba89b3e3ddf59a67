"""Which parts of a window the rollups answer and which the raw table does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from queries.run_rollups.hours import EARLIEST_HOUR, ceil_hour, day_text, floor_day, floor_hour, hour_ranges, naive_utc

MAX_DIRTY_RANGES = 24  # past it, one raw range from the first dirty hour to the last (a backfill)


def dirty_ranges(dirty: frozenset[datetime], h0: datetime, h1: datetime) -> list[tuple[datetime, datetime]]:
    """The ``dirty`` hours in [h0, h1) as ranges of consecutive hours (one range when too many)."""
    ranges = hour_ranges(h for h in dirty if h0 <= h < h1)
    if len(ranges) > MAX_DIRTY_RANGES:
        ranges = [(ranges[0][0], ranges[-1][1])]
    return ranges


def split_window(start: datetime | None, end: datetime | None, covered: datetime,
                 dirty: frozenset[datetime] = frozenset()):
    """Which ranges of [start, end) (None: unbounded) the raw table answers (aware bounds or
    None), and which spans of whole hours (naive UTC) the rollups do: the hours in
    [EARLIEST_HOUR, ``covered``) but the ``dirty`` ones (holding runs written since the rollups
    last saw them: ``dirty_hours``), which are read raw like the edges."""
    h0 = EARLIEST_HOUR if start is None else max(EARLIEST_HOUR, ceil_hour(start))
    h1 = covered if end is None else min(covered, floor_hour(end))
    if h0 >= h1:  # no whole hour rolled up in the window
        return [(start, end)], []
    raw: list[tuple[datetime | None, datetime | None]] = []
    if start is None or naive_utc(start) < h0:
        raw.append((start, h0.replace(tzinfo=UTC)))
    spans, cursor = [], h0
    for low, high in dirty_ranges(dirty, h0, h1):
        if cursor < low:
            spans.append((cursor, low))
        raw.append((low.replace(tzinfo=UTC), high.replace(tzinfo=UTC)))
        cursor = high
    if cursor < h1:
        spans.append((cursor, h1))
    if end is None or h1 < naive_utc(end):
        raw.append((h1.replace(tzinfo=UTC), end))
    return raw, spans


def rollup_reads(h0: datetime, h1: datetime) -> list[tuple[str, str, object, object]]:
    """The rollup reads of the hours [h0, h1): (``run_days``, UTC days) for whole days,
    (``run_hours``, hours) around them."""
    d0 = h0 if h0.hour == 0 else floor_day(h0) + timedelta(days=1)
    d1 = floor_day(h1)
    if d0 >= d1:
        return [("run_hours", "hour", h0, h1)]
    rolled: list[tuple[str, str, object, object]] = [("run_days", "day_utc", day_text(d0), day_text(d1))]
    if h0 < d0:
        rolled.append(("run_hours", "hour", h0, d0))
    if d1 < h1:
        rolled.append(("run_hours", "hour", d1, h1))
    return rolled


def plan_window(start: datetime | None, end: datetime | None, covered: datetime,
                dirty: frozenset[datetime] = frozenset()):
    """``split_window``' raw ranges, and its rolled-up spans as (table, period column, low, high) reads."""
    raw, spans = split_window(start, end, covered, dirty)
    return raw, [read for h0, h1 in spans for read in rollup_reads(h0, h1)]
