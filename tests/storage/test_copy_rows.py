"""The app's one COPY writer (queries/copy_rows.py): every value PostgreSQL can hold comes back
exactly as it went in, from a frame and from plain rows alike: NULL distinct from '', carriage
returns, newlines, tabs, backslashes, COPY's own NULL marker as text, quotes, right-to-left marks,
emoji, a megabyte of text, the ends of the timestamp range, NaN and infinite floats."""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
from sqlalchemy import text

from queries.copy_rows import copy_rows

AWKWARD_TEXT = [None, "", " ", "carriage\rreturn", "line\nfeed", "crlf\r\n", "\r", "tab\there", "back\\slash",
                "\\N", "NULL", "null", 'say "hi"', "it's", "comma,semi;colon", "\u200fمرحبا\u200f", "emoji 🚀🔥",
                "\\.", "end\\", "\u2028line separator", "x" * 1_000_000 + "\r\n\t\\ the end"]


def _table(conn) -> None:
    conn.execute(text("CREATE TEMP TABLE lane_copy (n INT, label TEXT, moment TIMESTAMP, ratio DOUBLE PRECISION)"))


def _read(conn) -> list[tuple]:
    """The rows as stored, times as PostgreSQL's own text (the app's casters move a finite time on
    an instant that stands for infinity a microsecond inwards: dashapp/storage/pg_times.py)."""
    return [tuple(row) for row in conn.execute(text(
        "SELECT n, label, moment::text, ratio FROM lane_copy ORDER BY n"))]


def _stored(moment: datetime | None) -> str | None:
    """``moment`` as PostgreSQL writes a timestamp: four-digit year, the fraction only when there is one."""
    if moment is None:
        return None
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}{fraction}"


MOMENTS = [datetime(1, 1, 1), datetime(999, 12, 31, 23, 59, 59, 999999), datetime(1970, 1, 1),
           datetime(9999, 12, 31, 23, 59, 59, 999999), None]
RATIOS = [0.1, 1e300, -0.0, 1 / 3, None]


def _expected() -> list[tuple]:
    return [(i, label, MOMENTS[i % len(MOMENTS)], RATIOS[i % len(RATIOS)]) for i, label in enumerate(AWKWARD_TEXT)]


def test_plain_rows_round_trip(pg_engine):
    rows = _expected()
    with pg_engine.begin() as conn:
        _table(conn)
        copy_rows(conn, "lane_copy", ["n", "label", "moment", "ratio"], rows)
        assert _read(conn) == [(n, label, _stored(moment), ratio) for n, label, moment, ratio in rows]
        conn.execute(text("DROP TABLE lane_copy"))


def test_a_frame_round_trips_with_nan_and_nat_as_null(pg_engine):
    rows = _expected()
    frame = pd.DataFrame({"n": [r[0] for r in rows], "label": [r[1] for r in rows],
                          "moment": [r[2] for r in rows], "ratio": [math.nan if r[3] is None else r[3] for r in rows]})
    with pg_engine.begin() as conn:
        _table(conn)
        copy_rows(conn, "lane_copy", ["n", "label", "moment", "ratio"], frame)
        got = _read(conn)
        conn.execute(text("DROP TABLE lane_copy"))
    assert [r[1] for r in got] == AWKWARD_TEXT  # None stays NULL, '' stays ''
    assert [r[3] for r in got] == [r[3] for r in rows]
    assert [r[2] for r in got] == [_stored(r[2]) for r in rows]


def test_infinite_floats_and_whole_numbers(pg_engine):
    frame = pd.DataFrame({"n": [1, 2, 3], "ratio": [math.inf, -math.inf, 2.5]})
    with pg_engine.begin() as conn:
        _table(conn)
        copy_rows(conn, "lane_copy", ["n", "ratio"], frame)
        got = [tuple(r) for r in conn.execute(text("SELECT n, ratio FROM lane_copy ORDER BY n"))]
        conn.execute(text("DROP TABLE lane_copy"))
    assert got == [(1, math.inf), (2, -math.inf), (3, 2.5)]
