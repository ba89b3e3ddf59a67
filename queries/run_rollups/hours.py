"""Hours and days as the rollups key them: naive UTC hours, UTC days as 'YYYY-MM-DD' text."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from queries import time_bounds


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def floor_hour(moment: datetime) -> datetime:
    return naive_utc(moment).replace(minute=0, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    """The UTC midnight before ``moment`` (naive UTC)."""
    return floor_hour(moment).replace(hour=0)


def day_text(moment: datetime) -> str:
    """'YYYY-MM-DD' of ``moment``, the year always four digits (strftime's %Y gives '1' for year 1)."""
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


def parse_day(value: str) -> datetime:
    """A 'YYYY-MM-DD' this module wrote (``day_text``) as a naive midnight."""
    year, month, day = (int(part) for part in value.split("-"))
    return datetime(year, month, day)


def key_value(value: object) -> object:
    """A CRM or sync type as a dict key: every missing value (None, NaN of a pandas column) is None."""
    return None if value is None or (isinstance(value, float) and value != value) else value


# The rollups hold runs started in [EARLIEST_HOUR, covered_until); runs before it (1970, year 1,
# -infinity) and after it are read from the raw table.
EARLIEST_HOUR = time_bounds.EARLIEST.replace(tzinfo=None)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == naive_utc(moment) else floor + timedelta(hours=1)


def hour_ranges(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Naive UTC hours as sorted [start, end) ranges of consecutive hours."""
    ranges: list[list[datetime]] = []
    for hour in sorted(set(hours)):
        if ranges and ranges[-1][1] == hour:
            ranges[-1][1] = hour + timedelta(hours=1)
        else:
            ranges.append([hour, hour + timedelta(hours=1)])
    return [(low, high) for low, high in ranges]


def aware(low: datetime, high: datetime) -> tuple[datetime, datetime]:
    """A range of naive UTC hours as aware UTC bounds (what the raw table's readers bind)."""
    return low.replace(tzinfo=UTC), high.replace(tzinfo=UTC)
