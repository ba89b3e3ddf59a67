"""psycopg2 typecasters for PostgreSQL's times that never raise.

psycopg2 maps 'infinity' and '-infinity' to datetime.max and datetime.min, and raises on a
time its session zone shows before year 1 (BC) or after year 9999, both of which PostgreSQL
holds. These casters make every time a value (queries/time_bounds.py):
- ±infinity -> INFINITY / MINUS_INFINITY (naive for ``timestamp``, UTC for ``timestamptz``);
- a ``timestamptz`` the session zone writes as BC or past 9999 -> its UTC instant when Python
  holds it (year 1 in a zone west of UTC), else clamped to FIRST / LAST;
- a ``timestamp`` outside years 1..9999 -> clamped to FIRST / LAST (naive).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import psycopg2.extensions as ext

from queries.time_bounds import FIRST, INFINITY, LAST, MINUS_INFINITY

TIMESTAMP, TIMESTAMPTZ, TIMESTAMP_ARRAY, TIMESTAMPTZ_ARRAY = 1114, 1184, 1115, 1185
_TEXT = re.compile(r"^(\d+)-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
                   r"(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$")


def cast_timestamp(value: str | None, cursor: object) -> datetime | None:
    """A ``timestamp`` (naive) column's text as a naive datetime."""
    if value is None:
        return None
    if value in ("infinity", "-infinity"):
        return (INFINITY if value == "infinity" else MINUS_INFINITY).replace(tzinfo=None)
    try:
        return _finite(ext.PYDATETIME(value, cursor))
    except (ValueError, OverflowError):
        return (FIRST if value.endswith(" BC") else LAST).replace(tzinfo=None)


def _finite(moment: datetime) -> datetime:
    """A finite time that falls on an instant standing for ±infinity (Django writes datetime.max
    as 9999-12-31 23:59:59.999999) moved one microsecond inwards, so only PostgreSQL's own
    'infinity' reads as infinity (the export formats times in SQL and keeps the microsecond)."""
    if moment.tzinfo is None:
        stands_for = {INFINITY.replace(tzinfo=None): -1, MINUS_INFINITY.replace(tzinfo=None): 1}.get(moment)
    else:
        stands_for = -1 if moment == INFINITY else 1 if moment == MINUS_INFINITY else None
    return moment if stands_for is None else moment + stands_for * timedelta(microseconds=1)


def cast_timestamptz(value: str | None, cursor: object) -> datetime | None:
    """A ``timestamptz`` column's text as an aware datetime."""
    if value is None:
        return None
    if value in ("infinity", "-infinity"):
        return INFINITY if value == "infinity" else MINUS_INFINITY
    try:
        return _finite(ext.PYDATETIMETZ(value, cursor))
    except (ValueError, OverflowError):
        return _finite(utc_instant(value))


def utc_instant(text: str) -> datetime:
    """The UTC instant of a ``timestamptz``'s text whose local year Python cannot hold: one day
    beyond year 1 or 9999 may still be inside them in UTC; anything further is FIRST or LAST."""
    match = _TEXT.match(text)
    before_christ = text.endswith(" BC")
    if match is None:
        return FIRST if before_christ else LAST
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    micro = int((match.group(7) or "0").ljust(6, "0"))
    sign = -1 if match.group(8) == "-" else 1
    offset = sign * timedelta(hours=int(match.group(9) or 0), minutes=int(match.group(10) or 0),
                              seconds=int(match.group(11) or 0))
    clock = timedelta(hours=hour, minutes=minute, seconds=second, microseconds=micro)
    try:
        if before_christ and (year, month, day) == (1, 12, 31):  # the day before 0001-01-01
            return datetime(1, 1, 1, tzinfo=UTC) + (clock - timedelta(days=1) - offset)
        if not before_christ and (year, month, day) == (10000, 1, 1):  # the day after 9999-12-31
            return datetime(9999, 12, 31, tzinfo=UTC) + (clock + timedelta(days=1) - offset)
    except OverflowError:
        pass
    return FIRST if before_christ else LAST


def register(dbapi_conn: object) -> None:
    """Install the casters on one psycopg2 connection (the engine's "connect" event)."""
    naive = ext.new_type((TIMESTAMP,), "SM_TIMESTAMP", cast_timestamp)
    aware = ext.new_type((TIMESTAMPTZ,), "SM_TIMESTAMPTZ", cast_timestamptz)
    for caster in (naive, aware):
        ext.register_type(caster, dbapi_conn)
    ext.register_type(ext.new_array_type((TIMESTAMP_ARRAY,), "SM_TIMESTAMP[]", naive), dbapi_conn)
    ext.register_type(ext.new_array_type((TIMESTAMPTZ_ARRAY,), "SM_TIMESTAMPTZ[]", aware), dbapi_conn)
