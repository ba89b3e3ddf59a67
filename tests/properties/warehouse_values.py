"""Hypothesis strategies for any row ``orchestration.sync_history`` can hold, in either table shape,
and the SQL that writes them.

Text is any Unicode without NUL (no text column can hold one) and without lone surrogates (UTF-8
cannot carry them), with the values that broke the app before drawn often: carriage returns, '',
right-to-left marks, emoji, markup, quotes, spreadsheet formulas. Times are anything PostgreSQL's
``timestamp``/``timestamptz`` holds that a Python datetime can name: -infinity, infinity, year 1,
year 9999, around 2000-01-01 (the rollups' lower edge), around now and now + 1 day (their upper
edge), the far future. Counts span the columns' type (INTEGER in both shapes), NULL where the
documented shape allows it. Statuses are any text of up to 20 characters, mixed case included.
``configuration`` and ``performance_metrics`` are any JSON (nested, big numbers, any keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st
from psycopg2.extras import Json
from sqlalchemy import Engine

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # records_* are INTEGER in both shapes (tests/support/deployed_shape.py)
CUT_OFF = datetime(2000, 1, 1)  # runs before it are at "impossible times": not in the rollups

SPECIAL_TEXT = (
    "", "\r", "a\rb", "\r\n", "x\n", "line\nbreak", "\u202eevil\u202c", "\u200fRTL", "🙂", "👩‍👩‍👧", "<b>x</b>",
    "<script>alert(1)</script>", 'ev"il', "'", "=1+1", "+1", "-1", "@x", "\t=x", ",", '"', "\\", "%s", "{}",
    "hubspot", "HubSpot", " spaced ", "ÅÄÖ", "e\u0301", "\ufeff", "\x7f", "\x01", "}", "a=b,c=d", "# HELP",
)
STATUSES = ("running", "success", "failed", "partial", "completed", "in_progress", "Success", "FAILED", " failed",
            "failed ", "unknown", "\rfailed", "")
CHARACTERS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def texts(max_size: int) -> st.SearchStrategy[str]:
    """Any text of at most ``max_size`` characters (a VARCHAR's limit), the special ones often."""
    return st.one_of(st.sampled_from([s for s in SPECIAL_TEXT if len(s) <= max_size]),
                     st.text(alphabet=CHARACTERS, max_size=max_size))


@dataclass(frozen=True)
class Moment:
    """A time to write: ``±infinity`` (``infinite``), a fixed naive UTC ``at``, or ``at`` taken as
    an offset from the example's now (``from_now``)."""

    infinite: str | None = None
    at: datetime | None = None
    from_now: timedelta | None = None

    def sql_value(self, now: datetime, aware: bool) -> object:
        """The parameter to bind before a ``::timestamp``/``::timestamptz`` cast."""
        if self.infinite is not None:
            return self.infinite
        moment = self.at if self.at is not None else now.replace(tzinfo=None) + self.from_now
        return moment.replace(tzinfo=UTC) if aware else moment

    def __repr__(self) -> str:  # short in hypothesis' reports
        if self.infinite is not None:
            return f"Moment({self.infinite!r})"
        return f"Moment(at={self.at!r})" if self.at is not None else f"Moment(from_now={self.from_now!r})"


def moments() -> st.SearchStrategy[Moment]:
    around_2000 = st.datetimes(CUT_OFF - timedelta(days=2), CUT_OFF + timedelta(days=2))
    return st.one_of(
        st.sampled_from([Moment(infinite="infinity"), Moment(infinite="-infinity"), Moment(at=datetime(1, 1, 1)),
                         Moment(at=datetime(9999, 12, 31, 23, 59, 59, 999999)), Moment(at=CUT_OFF),
                         Moment(at=CUT_OFF - timedelta(microseconds=1)), Moment(from_now=timedelta(0)),
                         Moment(from_now=timedelta(days=1)), Moment(from_now=timedelta(days=1, microseconds=1))]),
        st.datetimes().map(lambda at: Moment(at=at)),
        around_2000.map(lambda at: Moment(at=at)),
        st.timedeltas(-timedelta(days=40), timedelta(days=3)).map(lambda d: Moment(from_now=d)),
        st.timedeltas(-timedelta(hours=3), timedelta(hours=1)).map(lambda d: Moment(from_now=d)),
    )


def counts(nullable: bool) -> st.SearchStrategy[int | None]:
    bounds = st.sampled_from([INT_MIN, INT_MAX, 0, -1, 1, INT_MIN + 1, INT_MAX - 1])
    values = st.one_of(bounds, st.integers(INT_MIN, INT_MAX))
    return st.one_of(st.none(), values) if nullable else values


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**80), 2**80),
                         st.floats(allow_nan=False, allow_infinity=False), texts(40))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(texts(20), inner, max_size=4)), max_leaves=12)
CONFIGURATIONS = st.one_of(
    st.none(), JSON_VALUES,
    st.fixed_dictionaries({"schedule_id": JSON_VALUES}, optional={"batch_size": JSON_VALUES, "full_sync": JSON_VALUES}),
)


@st.composite
def runs(draw: st.DrawFn, shape: str) -> dict:
    """One sync_history row of ``shape`` ('documented' or 'deployed'), before insertion."""
    documented = shape == "documented"
    return {
        "crm_source": draw(texts(50)),
        "sync_type": draw(texts(100)),
        "endpoint": draw(st.one_of(st.none(), texts(200))),
        "start_time": draw(moments()),
        "end_time": draw(st.one_of(st.none(), moments())),
        "status": draw(st.one_of(st.sampled_from(STATUSES), texts(20),
                                 *([st.none()] if documented else []))),
        **{column: draw(counts(documented)) for column in RECORD_COLUMNS},
        "error_message": draw(st.one_of(st.none(), texts(300))),
        "configuration": draw(CONFIGURATIONS),
        "performance_metrics": draw(st.one_of(st.none(), JSON_VALUES)),
    }


RECORD_COLUMNS = ("records_processed", "records_created", "records_updated", "records_failed")
COLUMNS = ("crm_source", "sync_type", "endpoint", "start_time", "end_time", "status", *RECORD_COLUMNS,
           "error_message", "configuration", "performance_metrics")


def row(crm_source: str = "hubspot", sync_type: str = "contacts", *, start: Moment | None = None,
        end: Moment | None = None, status: str | None = "success", records: int | None = 1,
        error_message: str | None = None, endpoint: str | None = None, configuration: object = None) -> dict:
    """A row for an explicit ``@example``: an ordinary successful run unless told otherwise."""
    return {"crm_source": crm_source, "sync_type": sync_type, "endpoint": endpoint,
            "start_time": start or Moment(from_now=-timedelta(hours=5)),
            "end_time": end if end is not None else Moment(from_now=-timedelta(hours=4)),
            "status": status, **dict.fromkeys(RECORD_COLUMNS, records), "error_message": error_message,
            "configuration": configuration, "performance_metrics": None}


def insert(engine: Engine, rows: list[dict], now: datetime, aware: bool) -> list[int]:
    """Write ``rows`` with psycopg2's own parameters, times through a cast (so 'infinity' is one
    value among others); returns their ids in order."""
    cast = "timestamptz" if aware else "timestamp"
    placeholders = ", ".join(f"%s::{cast}" if c in ("start_time", "end_time") else
                             "%s::jsonb" if c in ("configuration", "performance_metrics") else "%s" for c in COLUMNS)
    statement = (f"INSERT INTO orchestration.sync_history ({', '.join(COLUMNS)}) VALUES ({placeholders})"
                 " RETURNING id")
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        ids = []
        for values in rows:
            cursor.execute(statement, [_parameter(c, values[c], now, aware) for c in COLUMNS])
            ids.append(cursor.fetchone()[0])
        connection.commit()
        return ids
    finally:
        connection.close()


def _parameter(column: str, value: object, now: datetime, aware: bool) -> object:
    """A column's value as psycopg2 binds it: times resolved, JSON wrapped (None: SQL NULL)."""
    if isinstance(value, Moment):
        return value.sql_value(now, aware)
    if column in ("configuration", "performance_metrics") and value is not None:
        return Json(value)
    return value
