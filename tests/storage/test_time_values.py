"""The driver's casters and the display of times at the ends of what PostgreSQL holds: never an
error; what is shown is what time_bounds.py says (±infinity as such, years with four digits, an
instant Python cannot hold clamped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from dashapp import display
from dashapp.storage.db import postgres_engine
from queries._sql import to_utc, utc_moment
from queries.time_bounds import FIRST, INFINITY, LAST, MINUS_INFINITY, infinity_name

LITERALS = ["'infinity'::timestamptz", "'-infinity'::timestamptz", "'infinity'::timestamp",
            "'0001-01-01 00:00+00'::timestamptz", "'9999-12-31 23:00+00'::timestamptz",
            "'0001-01-01 00:00'::timestamp", "'9999-12-31 23:00'::timestamp", "'0100-01-01 BC'::timestamptz",
            "'20000-01-01 00:00+00'::timestamptz", "'0999-06-01 12:00'::timestamp"]


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Tokyo", "UTC"])
def test_every_time_postgres_holds_reads_as_a_value_in_any_data_zone(postgres_url, zone):
    engine = postgres_engine(postgres_url, "orchestration", sync_timezone=zone)
    with engine.connect() as conn:
        values = conn.execute(text("SELECT " + ", ".join(LITERALS))).one()
        utc = [display.iso_utc(v) for v in to_utc(pd.Series(list(values), dtype=object), display.ZoneInfo(zone))]
    engine.dispose()
    assert values[0] == INFINITY and values[1] == MINUS_INFINITY
    assert values[3] == datetime(1, 1, 1, tzinfo=UTC)  # year 1 in UTC, shown BC in Los Angeles' LMT
    assert values[4] == datetime(9999, 12, 31, 23, tzinfo=UTC)  # year 10000 in Tokyo
    assert values[7] == FIRST and values[8] == LAST
    assert utc[:5] == ["infinity", "-infinity", "infinity", "0001-01-01T00:00:00Z", "9999-12-31T23:00:00Z"]
    naive_year_one = {"UTC": "0001-01-01T00:00:00Z", "America/Los_Angeles": "0001-01-01T07:52:58Z",
                      "Asia/Tokyo": "0001-01-01T00:00:00Z"}  # Tokyo's is before year 1 in UTC: clamped
    assert utc[5] == naive_year_one[zone]
    naive_last = {"UTC": "9999-12-31T23:00:00Z", "America/Los_Angeles": "9999-12-31T23:59:59Z",
                  "Asia/Tokyo": "9999-12-31T14:00:00Z"}  # Los Angeles' is past 9999 in UTC: clamped
    assert utc[6] == naive_last[zone]
    assert utc[9].startswith("0999-06-01T")


def test_times_show_four_digit_years_infinity_and_a_utc_clock_where_the_zone_cannot():
    assert display.iso_utc(datetime(999, 6, 1, tzinfo=UTC)) == "0999-06-01T00:00:00Z"
    assert display.iso_utc_all(pd.Series([INFINITY, datetime(1, 1, 1, tzinfo=UTC), None])) == \
        ["infinity", "0001-01-01T00:00:00Z", None]
    assert display.local_clock("infinity", "Asia/Tokyo") == "infinity"
    assert display.local_clock(MINUS_INFINITY, "America/Los_Angeles", seconds=True) == "-infinity"
    assert display.local_clock(datetime(1, 1, 1, tzinfo=UTC), "Asia/Tokyo") == "0001-01-01 09:18 LMT"
    # year 1 UTC is 1 BC in Los Angeles, and 9999-12-31 23:00 UTC year 10000 in Tokyo: shown in UTC
    assert display.local_clock(datetime(1, 1, 1, tzinfo=UTC), "America/Los_Angeles") == "0001-01-01 00:00 UTC"
    assert display.local_clock(datetime(9999, 12, 31, 23, tzinfo=UTC), "Asia/Tokyo", seconds=True) == \
        "9999-12-31 23:00:00 UTC"
    assert display.from_iso("infinity") == INFINITY and not display.finite("-infinity")
    assert display.finite(datetime(1, 1, 1) + timedelta(hours=1))


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "UTC"])
def test_only_postgres_infinity_reads_as_infinity(postgres_url, zone):
    """Django writes datetime.max as a finite 9999-12-31 23:59:59.999999: read through the app it
    is a time a microsecond earlier, not infinity; the same for the instant -infinity stands for."""
    engine = postgres_engine(postgres_url, "orchestration", sync_timezone=zone)
    with engine.connect() as conn:
        conn.execute(text(f"SET TIME ZONE '{zone}'"))
        values = conn.execute(text(
            "SELECT '9999-12-31 23:59:59.999999+00'::timestamptz, '9999-12-31 23:59:59.999999'::timestamp, "
            "'0001-01-01 00:00:00.000001+00'::timestamptz, 'infinity'::timestamptz, '-infinity'::timestamp")).one()
    engine.dispose()
    assert [infinity_name(v) for v in values] == [None, None, None, "infinity", "-infinity"]
    assert values[0] == LAST and values[1] == LAST.replace(tzinfo=None)
    assert values[2] == MINUS_INFINITY + timedelta(microseconds=1)


CLOCK_CHANGES = {  # local times a clock change repeated (fall-back) or skipped (spring-forward), and one either side
    "America/New_York": ["2026-11-01 01:30", "2026-11-01 01:00", "2026-03-08 02:30", "2026-03-08 01:59",
                         "2026-06-01 12:00"],
    "Australia/Lord_Howe": ["2026-04-05 01:45", "2026-10-04 02:15", "2026-10-04 02:45"],  # 30-minute changes
    "Europe/Dublin": ["2026-10-25 01:30", "2026-03-29 01:30"],  # summer time is its standard time
}


@pytest.mark.parametrize("zone", sorted(CLOCK_CHANGES))
def test_naive_times_at_a_clock_change_read_as_postgres_reads_them(postgres_url, zone):
    """A naive time in the hour a clock change repeats or skips is one instant, the one PostgreSQL's
    ``AT TIME ZONE`` gives (the oracle), in the vector path and one at a time; never NaT."""
    engine = postgres_engine(postgres_url, "orchestration", sync_timezone=zone)
    locals_ = [datetime.fromisoformat(v) for v in CLOCK_CHANGES[zone]]
    with engine.connect() as conn:
        oracle = [conn.execute(text("SELECT CAST(:v AS timestamp) AT TIME ZONE :z"), {"v": v, "z": zone}).scalar()
                  for v in locals_]
    engine.dispose()
    vector = to_utc(pd.Series(locals_), display.ZoneInfo(zone))
    assert [t.to_pydatetime() for t in vector] == [o.astimezone(UTC) for o in oracle]
    assert [utc_moment(v, display.ZoneInfo(zone)) for v in locals_] == [o.astimezone(UTC) for o in oracle]
