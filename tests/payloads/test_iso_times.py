"""Times in the JSON: one at a time and a whole column at once give the same text."""

from __future__ import annotations


def test_times_made_iso_all_at_once_equal_one_at_a_time():
    """The API usage payloads format thousands of times at once (display.iso_utc_all); each is
    what display.iso_utc gives: naive values read as UTC, aware ones converted, missing ones None."""
    import pandas as pd

    from dashapp import display

    naive = pd.Series(pd.to_datetime(["2026-11-30 23:59:59", None, "2026-03-08 02:30:00"]))
    aware = pd.Series(pd.to_datetime(["2026-11-30T18:00:00-05:00", "2026-07-01T12:00:00+05:30"], utc=True))
    for values in (naive, aware):
        assert display.iso_utc_all(values) == [display.iso_utc(v) for v in values]
    assert display.iso_utc_all(naive) == ["2026-11-30T23:59:59Z", None, "2026-03-08T02:30:00Z"]
