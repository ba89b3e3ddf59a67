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


# Inside the app ±infinity are two instants Python's datetime holds (psycopg2's own mapping,
# made exact by the typecaster of dashapp/storage/db.py): +infinity the last microsecond of
# year 9999, -infinity the first microsecond after 0001-01-01T00:00:00 (so a real
# 0001-01-01 00:00 stays a time). A finite instant Python cannot hold (before year 1 or past
# year 9999 in UTC: an extreme naive time in a zone away from UTC, or a timestamptz beyond
# those years) is clamped to FIRST or LAST, the nearest instant it can.
INFINITY = datetime.max.replace(tzinfo=UTC)
MINUS_INFINITY = datetime.min.replace(microsecond=1, tzinfo=UTC)
FIRST = datetime.min.replace(tzinfo=UTC)
LAST = INFINITY - timedelta(microseconds=1)


def infinity_name(moment: datetime) -> str | None:
    """"infinity" or "-infinity" when ``moment`` (naive or aware) stands for one; else None."""
    naive = moment.replace(tzinfo=None)
    if naive == INFINITY.replace(tzinfo=None):
        return "infinity"
    if naive == MINUS_INFINITY.replace(tzinfo=None):
        return "-infinity"
    return None
