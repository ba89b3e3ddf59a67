"""Where a run's start can plausibly be: from 2000-01-01 (UTC) to a day after now. Runs outside
(±infinity, year 1, a clock that jumped decades) are "impossible times": they are counted and
listed on /health, readable in the history, and never rolled up hour by hour (one 1970 row would
otherwise make the rollup build walk 20,000 empty days)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=1)


def latest(now: datetime) -> datetime:
    """The latest plausible start at ``now`` (aware UTC)."""
    return (now if now.tzinfo else now.replace(tzinfo=UTC)) + AHEAD
