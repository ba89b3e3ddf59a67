"""What every query module shares: the qualified table names, running SQL into a DataFrame,
and the one place where database times become UTC.

The user's columns are ``TIMESTAMP`` without time zone holding ``SYNC_TIMEZONE`` (UTC by
default); ``timestamptz`` columns come back tz-aware. Both leave here as tz-aware UTC pandas
columns, and times going in are bound as naive values in the data zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, DateTime, Engine, TextClause, bindparam, inspect, text

from queries.bad_parameter import FilterError
from queries.time_bounds import FIRST, LAST, infinity_name

DEFAULT_SCHEMA = "orchestration"
Connectable = Engine | Connection


@contextmanager
def connect(db: Connectable) -> Iterator[Connection]:
    """Use ``db`` as it is when it is a connection; open (and close) one when it is an engine."""
    if isinstance(db, Connection):
        yield db
    else:
        with db.connect() as conn:
            yield conn


def without_jit(conn: Connection) -> None:
    """PostgreSQL's JIT off for the rest of this transaction: a statement whose window functions
    run over a month of runs spends most of a second compiling (measured: 0.8 of 6 s) and gains
    nothing from it. Nothing on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")


@contextmanager
def begin(db: Connectable) -> Iterator[Connection]:
    """A transaction for a writer: ``db`` as it is when it is a connection (its caller's
    transaction, which the caller commits); else a new connection, committed when the block ends."""
    if isinstance(db, Connection):
        yield db
    else:
        with db.begin() as conn:
            yield conn


def schema(db: Connectable) -> str:
    return db.get_execution_options().get("sync_schema", DEFAULT_SCHEMA)


def data_zone(db: Connectable) -> ZoneInfo:
    return ZoneInfo(db.get_execution_options().get("sync_timezone", "UTC"))


def table(conn: Connection, name: str) -> str:
    """``"schema"."name"`` for SQL text; both parts come from configuration, never from users."""
    return f'"{schema(conn)}"."{name}"'


def app_table(conn: Connection, name: str) -> str:
    """One of the app's own tables: ``"APP_SCHEMA"."name"``, or plain ``"name"`` on SQLite."""
    app_schema = conn.get_execution_options().get("app_schema")
    return f'"{app_schema}"."{name}"' if app_schema else f'"{name}"'


def app_db(db: Connectable) -> Connectable:
    """Where the app's own tables are: the engine of MONITOR_DATABASE_URL, which the warehouse
    engine carries as the execution option ``monitor_engine``; ``db`` itself when the app's tables
    share the warehouse (the default)."""
    return db.get_execution_options().get("monitor_engine") or db


def separate_app_db(db: Connectable) -> bool:
    """True when the app's tables live in a database of their own (no SQL join with the runs)."""
    return db.get_execution_options().get("monitor_engine") is not None


def has_table(conn: Connection, name: str) -> bool:
    return inspect(conn).has_table(name, schema=schema(conn))


NOT_MIGRATED = "the app's own tables do not exist yet: run `python app.py db upgrade`"


def app_tables_exist(db: Connectable, name: str = "api_calls") -> bool:
    """Whether the app's own tables exist (``python app.py db upgrade`` has run)."""
    with connect(app_db(db)) as conn:
        return inspect(conn).has_table(name, schema=conn.get_execution_options().get("app_schema"))


def known_duration_sql(conn: Connection, alias: str = "") -> str:
    """True where a run's duration is known: it has an end and both its times are finite
    (PostgreSQL stores ±infinity, and subtracting one raises "cannot subtract infinite timestamps").
    NULL, not false, where end_time is NULL: use it in CASE WHEN or FILTER (WHERE ...)."""
    start, end = f"{alias}start_time", f"{alias}end_time"
    if conn.dialect.name == "postgresql":
        return f"(isfinite({end}) AND isfinite({start}))"
    return f"(julianday({end}) IS NOT NULL AND julianday({start}) IS NOT NULL)"


def span_sql(conn: Connection, alias: str = "") -> str:
    """end_time - start_time as an interval on PostgreSQL, NULL where the duration is unknown
    (``known_duration_sql``): summing intervals and taking the epoch once costs less than a
    per-row EXTRACT. On SQLite it is ``duration_sql`` (seconds)."""
    if conn.dialect.name != "postgresql":
        return duration_sql(conn, alias)
    return f"CASE WHEN {known_duration_sql(conn, alias)} THEN {alias}end_time - {alias}start_time END"


def duration_sql(conn: Connection, alias: str = "") -> str:
    """end_time - start_time in seconds, as SQL for this backend: NULL while end_time is NULL and
    where either time is ±infinity (an unknown duration, never an error)."""
    start, end = f"{alias}start_time", f"{alias}end_time"
    if conn.dialect.name == "postgresql":
        return f"CASE WHEN {known_duration_sql(conn, alias)} THEN EXTRACT(EPOCH FROM ({end} - {start})) END"
    # julianday() is a float of days: about 50 µs of error, so round to the millisecond, or a run
    # of exactly 60 s could compare as 60.00004
    return f"ROUND((julianday({end}) - julianday({start})) * 86400.0, 3)"


def timed_sql(conn: Connection) -> str:
    """A run that counts for throughput: its duration is known and above 0."""
    return f"({known_duration_sql(conn)} AND end_time > start_time)"


def timed_seconds_sql(conn: Connection) -> str:
    """The summed seconds of the ``timed_sql`` runs of a group (an aggregate; NULL when none)."""
    if conn.dialect.name == "postgresql":  # sum intervals, take their seconds once per group
        return f"EXTRACT(EPOCH FROM SUM(CASE WHEN {timed_sql(conn)} THEN end_time - start_time END))"
    return f"SUM(CASE WHEN {timed_sql(conn)} THEN {duration_sql(conn)} END)"


def duration_sum_sql(conn: Connection) -> str:
    """The summed seconds of a group's runs of known duration (an aggregate; NULL when none)."""
    if conn.dialect.name == "postgresql":
        return f"EXTRACT(EPOCH FROM SUM({span_sql(conn)}))"
    return f"SUM({duration_sql(conn)})"


def day_sql(conn: Connection, column: str = "start_time") -> str:
    """The calendar day of ``column`` (in the data zone): date_trunc on PostgreSQL (a third of
    to_char's cost), 'YYYY-MM-DD' text on SQLite. ``label_days`` makes both 'YYYY-MM-DD'."""
    if conn.dialect.name == "postgresql":
        return f"date_trunc('day', {column})"
    return f"strftime('%Y-%m-%d', {column})"


def label_days(frame: pd.DataFrame, column: str = "day") -> pd.DataFrame:
    """``column`` (days from ``day_sql``) as 'YYYY-MM-DD' text, four-digit years from year 1;
    an infinite day (date_trunc of ±infinity) is "infinity" / "-infinity"."""
    if not frame.empty and not isinstance(frame[column].iloc[0], str):
        frame[column] = [day_label(v) for v in frame[column]]
    return frame


def day_label(value: object) -> str | None:
    """One day as 'YYYY-MM-DD' (``date.isoformat`` keeps four digits), "infinity" or "-infinity"."""
    if value is None or pd.isna(value):  # type: ignore[arg-type]
        return None
    moment = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    if isinstance(moment, datetime):
        return infinity_name(moment) or moment.date().isoformat()
    return str(moment)


def sql(statement: str, *, times: tuple[str, ...] = (), params: tuple[str, ...] = ()) -> TextClause:
    """A text statement whose ``times`` result columns and ``params`` binds are DATETIME-typed,
    so SQLite (which stores times as text) parses and formats them like PostgreSQL."""
    clause = text(statement)
    if params:
        clause = clause.bindparams(*(bindparam(p, type_=DateTime()) for p in params))
    if times:
        clause = clause.columns(**{c: DateTime() for c in times})
    return clause


def bind_time(db: Connectable, moment: datetime) -> datetime:
    """A UTC moment as the naive value the user's columns would hold for it; ±infinity (and a
    moment the data zone would put past year 1..9999) as the naive end of Python's range."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if infinity_name(aware) is not None:
        return aware.replace(tzinfo=None)
    try:
        return aware.astimezone(data_zone(db)).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return (FIRST if aware.year < 5000 else LAST).replace(tzinfo=None)


def read_frame(conn: Connection, clause: TextClause, params: dict | None = None,
               times: tuple[str, ...] = ()) -> pd.DataFrame:
    """Run ``clause`` and return its rows as a DataFrame, ``times`` columns as UTC timestamps."""
    result = conn.execute(clause, params or {})
    # plain tuples: pandas probes every Row object's attributes otherwise (half the time on wide rows)
    frame = pd.DataFrame([tuple(row) for row in result.fetchall()], columns=list(result.keys()))
    for column in times:
        frame[column] = to_utc(frame[column], data_zone(conn))
    return frame


def to_utc(values: pd.Series, zone: ZoneInfo) -> pd.Series:
    """Naive values are taken to be in ``zone``; aware ones keep their instant. Result: UTC, in
    microseconds (years 1..9999 fit). ±infinity (``time_bounds.INFINITY``/``MINUS_INFINITY``,
    naive or aware) stay themselves; an instant outside Python's years is clamped (``utc_moment``)."""
    if values.empty:
        return pd.Series([], index=values.index, dtype=UTC_TIMES)
    if values.dtype == object:  # None mixed in, or aware datetimes in a zone pandas did not infer
        aware = values.map(lambda v: v.tzinfo is not None if hasattr(v, "tzinfo") else None).dropna()
        if aware.any():
            return pd.Series([utc_moment(v, zone) for v in values], index=values.index, dtype=UTC_TIMES)
        values = pd.to_datetime(values).astype("datetime64[us]")
    if getattr(values.dt, "tz", None) is not None:
        return values.dt.tz_convert("UTC").astype(UTC_TIMES)
    values = values.astype("datetime64[us]")
    # within a day of year 1 or 9999 a zone's offset can leave Python's range (and pandas raises):
    # those values, and ±infinity, one at a time
    edge = values.notna() & ((values < _SAFE_LOW) | (values > _SAFE_HIGH))
    local = values.mask(edge).dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    converted = local.dt.tz_convert("UTC").astype(UTC_TIMES)
    # the edges, and local times a clock change made ambiguous or skipped, one at a time as PostgreSQL reads them
    single = edge | (values.notna() & local.isna())
    if single.any():
        converted[single] = [utc_moment(v.to_pydatetime(), zone) for v in values[single]]
    return converted


UTC_TIMES = "datetime64[us, UTC]"
_SAFE_LOW, _SAFE_HIGH = pd.Timestamp("0001-01-03"), pd.Timestamp("9999-12-29")


def utc_moment(value: object, zone: ZoneInfo) -> datetime | None:
    """One time as an aware UTC datetime (None when missing): naive in ``zone``; ±infinity kept;
    an instant before year 1 or past 9999 in UTC clamped to ``time_bounds.FIRST``/``LAST``."""
    if value is None or not isinstance(value, datetime) or pd.isna(value):
        return None
    if infinity_name(value) is not None:
        return value.replace(tzinfo=UTC)
    try:
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        # a local time a clock change repeated or skipped: PostgreSQL's reading (``AT TIME ZONE``) is
        # the later of the two instants it could be (standard time after a fall-back; the offset
        # before a spring-forward gap)
        return max(value.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    except (OverflowError, ValueError):
        return FIRST if value.year < 5000 else LAST


def app_times(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``columns`` of a frame read from the app's own tables (naive UTC) as UTC timestamps."""
    for column in columns:
        frame[column] = to_utc(pd.to_datetime(frame[column]), UTC)  # type: ignore[arg-type]
    return frame


MAX_CHOICES = 200  # values in one IN list


class Binds:
    """Collects bound parameters for SQL text built from whitelisted pieces; values never enter
    the SQL itself. ``time_params`` names the DATETIME binds, for ``sql(..., params=...)``."""

    def __init__(self, conn: Connection, zone: str = "UTC") -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.params: dict[str, object] = {}
        self.time_params: list[str] = []
        try:
            self.zone = ZoneInfo(zone)
        except (ValueError, KeyError, OSError):
            raise FilterError(f"time zone {zone[:60]!r} is not known") from None

    def bind(self, value: object) -> str:
        name = f"p{len(self.params)}"
        if isinstance(value, datetime):
            value = bind_time(self.conn, value)
            self.time_params.append(name)
        self.params[name] = value
        return f":{name}"

    def bind_app_time(self, moment: datetime) -> str:
        """A moment for the app's own tables, which hold naive UTC (no conversion to the data zone)."""
        name = f"p{len(self.params)}"
        self.params[name] = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        self.time_params.append(name)
        return f":{name}"

    def like(self, column: str, pattern: str) -> str:
        operator = "ILIKE" if self.postgres else "LIKE"  # SQLite's LIKE ignores ASCII case
        return f"{column} {operator} {self.bind(pattern)} ESCAPE '\\'"

    def in_list(self, column: str, values: tuple[str, ...]) -> str:
        if len(values) > MAX_CHOICES:
            raise FilterError(f"{column}: at most {MAX_CHOICES} values")
        return f"{column} IN ({', '.join(self.bind(v) for v in values)})"

    def frame(self, statement: str, times: tuple[str, ...] = ()) -> pd.DataFrame:
        """Run ``statement`` with the collected parameters; ``times`` columns come back as UTC."""
        clause = sql(statement, times=times, params=tuple(self.time_params))
        return read_frame(self.conn, clause, self.params, times=times)
