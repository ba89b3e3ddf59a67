"""The history explorer's SQL: a filter (quick filters, AG Grid's filter model, a sort model)
becomes one parameterised WHERE and ORDER BY, used for the page, the count and the export.

Column ids and operators map onto the whitelists below; every value is a bound parameter. Input
that cannot be applied raises FilterError with a message naming the problem.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TypedDict, Unpack
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, TextClause

from queries import outcomes, run_rollups, scope
from queries._sql import (
    Binds,
    Connectable,
    connect,
    data_zone,
    duration_sql,
    read_frame,
    span_sql,
    sql,
    table,
    utc_moment,
)
from queries.as_of import ended_after
from queries.bad_parameter import FilterError
from queries.durations import add_duration
from queries.messages import length_of
from queries.run_detail import run_row
from queries.scope import escape_like

TEXT, NUMBER, DATE = "text", "number", "date"
# Grid column id -> kind. The SQL for each is the column itself, but duration (see _expression).
COLUMNS = {
    "id": NUMBER,
    "crm_source": TEXT,
    "sync_type": TEXT,
    "status": TEXT,
    "endpoint": TEXT,
    "start_time": DATE,
    "end_time": DATE,
    "duration_seconds": NUMBER,
    "records_processed": NUMBER,
    "records_created": NUMBER,
    "records_updated": NUMBER,
    "records_failed": NUMBER,
    "error_message": TEXT,
}
NOT_NULL = {"id", "crm_source", "sync_type", "start_time"}  # the user's NOT NULL columns
TEXT_OPS = {"contains", "notContains", "equals", "notEqual", "startsWith", "endsWith", "blank", "notBlank"}
NUMBER_OPS = {"equals", "notEqual", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual",
              "inRange", "blank", "notBlank"}
DATE_OPS = {"equals", "notEqual", "lessThan", "greaterThan", "inRange", "blank", "notBlank"}
MAX_TEXT = 1000  # characters in one filter value
MAX_PAGE = 1000
TIMES = ("start_time", "end_time")
EXPORT_COLUMNS = ("id", "crm_source", "sync_type", "endpoint", "status", "start_time", "end_time",
                  "duration_seconds", "records_processed", "records_created", "records_updated",
                  "records_failed", "error_message")

EXPORT_TEXT_COLUMNS = ("crm_source", "sync_type", "endpoint", "status", "error_message")
# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection"):
# the CSV export prefixes such text with a single quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised_text_sql(column: str, name: str | None = None) -> str:
    """``column`` (named ``name``, default itself) with a single quote before a leading formula
    character (PostgreSQL, for COPY)."""
    starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_STARTS)
    return (f"CASE WHEN left({column}, 1) IN ({starts}) THEN chr(39) || {column} ELSE {column} END "
            f"AS {name or column}")


class FilterValues(TypedDict, total=False):
    """The keyword arguments every reader below takes, each optional: which runs, in what order."""

    start: datetime | None  # start_time >= start (aware)
    end: datetime | None  # start_time < end (aware)
    crm_sources: tuple[str, ...]
    statuses: tuple[str, ...]  # a status class stands for its aliases too
    sync_types: tuple[str, ...]
    q: str | None  # error_message contains, case-insensitive
    columns: dict  # AG Grid's filterModel
    sort: tuple[tuple[str, str], ...]  # (column id, "asc" | "desc"); default newest first
    zone: str  # the zone grid date filters are given in (the viewer's); default UTC
    ended_after: datetime | None  # end_time >= ended_after (aware): the overview cards' windows
    # (low, high): only runs whose start is outside them, start_time < low or > high (/health's
    # impossible times, queries.impossible_times.bounds)
    outside: tuple[datetime, datetime] | None
    # the moment the view shows (``at``): only runs started before it; a run that ended after it
    # is shown as it was then, ``running`` with no end (``as_of_columns``)
    as_of: datetime | None


AS_OF_RUNNING = "running"


def as_of_columns(b: Binds, as_of: datetime | None) -> tuple[str, str]:
    """SQL for (status, end_time) as they were at ``as_of``: a run that ended after it was running
    then and had no end yet; the stored columns when live (``as_of`` None)."""
    if as_of is None:
        return "status", "end_time"
    moment = b.bind(as_of)
    return (f"CASE WHEN end_time > {moment} THEN '{AS_OF_RUNNING}' ELSE status END",
            f"CASE WHEN end_time > {moment} THEN NULL ELSE end_time END")


def _expression(b: Binds, column: str) -> str:
    return duration_sql(b.conn) if column == "duration_seconds" else column


def _text(value: object, what: str) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise FilterError(f"{what}: expected text")
    text = str(value)
    if len(text) > MAX_TEXT:
        raise FilterError(f"{what}: the text is longer than {MAX_TEXT} characters")
    if "\x00" in text:
        raise FilterError(f"{what}: the text holds a NUL character")
    return text


def _number(value: object, what: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FilterError(f"{what}: {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number) or abs(number) > 1e15:
        raise FilterError(f"{what}: {str(value)[:40]!r} is not a usable number")
    return number


UTC_ZONE = ZoneInfo("UTC")


def parse_time(value: object, what: str, zone: ZoneInfo = UTC_ZONE) -> datetime:
    """ISO 8601 (``2026-11-20``, ``2026-11-20T10:00:00Z``, ``2026-11-20 10:00:00``); a value
    without an offset is in ``zone``. Returns an aware UTC datetime."""
    text = _text(value, what).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FilterError(f"{what}: {text[:40]!r} is not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    # years 1..9998, so runs at impossible times can be filtered too (a day is added to a date)
    if not 1 <= moment.year <= 9998:
        raise FilterError(f"{what}: {text[:40]!r} is out of range")
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 east of UTC
        raise FilterError(f"{what}: {text[:40]!r} is out of range") from None


def _condition(b: Binds, column: str, model: dict, nested: bool = False) -> str:
    """One column's filter: a condition, or (AG Grid's combined model) up to 10 conditions joined
    by AND or OR, one level deep. Every value's type is checked before it is used."""
    what = f"filter: column {column}"
    if not isinstance(model, dict):
        raise FilterError(f"{what}: not a filter model")
    if "conditions" in model or "condition1" in model:
        if nested:
            raise FilterError(f"{what}: conditions cannot be nested")
        joiner = model.get("operator", "AND")
        if not isinstance(joiner, str) or joiner.upper() not in ("AND", "OR"):
            raise FilterError(f"{what}: operator must be AND or OR")
        parts = model.get("conditions") or [model.get("condition1"), model.get("condition2")]
        if not isinstance(parts, list) or not 1 <= len(parts) <= 10:
            raise FilterError(f"{what}: conditions must be a list of 1 to 10 conditions")
        clauses = [_condition(b, column, part, nested=True) for part in parts if part]
        if not clauses:
            raise FilterError(f"{what}: between 1 and 10 conditions")
        return "(" + f" {joiner.upper()} ".join(clauses) + ")"
    kind = COLUMNS[column]
    op = model.get("type")
    if not isinstance(op, str):
        raise FilterError(f"{what}: type must be text naming an operator")
    expr = _expression(b, column)
    if op == "blank":
        return f"({expr} IS NULL OR {expr} = '')" if kind == TEXT else f"{expr} IS NULL"
    if op == "notBlank":
        return f"({expr} IS NOT NULL AND {expr} <> '')" if kind == TEXT else f"{expr} IS NOT NULL"
    if kind == TEXT:
        return _text_condition(b, expr, op, _text(model.get("filter", ""), what), what)
    if kind == NUMBER:
        return _number_condition(b, expr, op, model, what)
    return _date_condition(b, expr, op, model, what)


def _text_condition(b: Binds, expr: str, op: object, value: str, what: str) -> str:
    if op not in TEXT_OPS:
        raise FilterError(f"{what}: unknown text operator {str(op)[:30]!r}")
    escaped = escape_like(value)
    return {
        "contains": lambda: b.like(expr, f"%{escaped}%"),
        "notContains": lambda: f"({expr} IS NULL OR NOT ({b.like(expr, f'%{escaped}%')}))",
        "equals": lambda: f"{expr} = {b.bind(value)}",
        "notEqual": lambda: f"({expr} IS NULL OR {expr} <> {b.bind(value)})",
        "startsWith": lambda: b.like(expr, f"{escaped}%"),
        "endsWith": lambda: b.like(expr, f"%{escaped}"),
    }[op]()


def _number_condition(b: Binds, expr: str, op: object, model: dict, what: str) -> str:
    if op not in NUMBER_OPS:
        raise FilterError(f"{what}: unknown number operator {str(op)[:30]!r}")
    value = _number(model.get("filter"), what)
    if op == "inRange":
        high = _number(model.get("filterTo"), what)
        return f"{expr} BETWEEN {b.bind(min(value, high))} AND {b.bind(max(value, high))}"
    if op == "notEqual":
        return f"({expr} IS NULL OR {expr} <> {b.bind(value)})"
    symbol = {"equals": "=", "lessThan": "<", "lessThanOrEqual": "<=", "greaterThan": ">",
              "greaterThanOrEqual": ">="}[op]
    return f"{expr} {symbol} {b.bind(value)}"


def _date_condition(b: Binds, expr: str, op: object, model: dict, what: str) -> str:
    """Grid dates are whole days in the viewer's zone: ``equals`` is that day, ``lessThan`` before
    it, ``greaterThan`` after it, ``inRange`` both days included."""
    if op not in DATE_OPS:
        raise FilterError(f"{what}: unknown date operator {str(op)[:30]!r}")
    day = parse_time(model.get("dateFrom"), what, b.zone)
    next_day = day + timedelta(days=1)
    if op == "equals":
        return f"({expr} >= {b.bind(day)} AND {expr} < {b.bind(next_day)})"
    if op == "notEqual":
        return f"({expr} IS NULL OR {expr} < {b.bind(day)} OR {expr} >= {b.bind(next_day)})"
    if op == "lessThan":
        return f"{expr} < {b.bind(day)}"
    if op == "greaterThan":
        return f"{expr} >= {b.bind(next_day)}"
    last = parse_time(model.get("dateTo"), what, b.zone)
    low, high = min(day, last), max(day, last)
    return f"({expr} >= {b.bind(low)} AND {expr} < {b.bind(high + timedelta(days=1))})"


def _clauses(conn: Connection, values: FilterValues) -> tuple[Binds, str, str]:
    """The bound parameters, WHERE and ORDER BY of ``values``."""
    b = Binds(conn, values.get("zone", "UTC"))
    where = {name: value for name, value in values.items() if name not in ("zone", "sort")}
    return b, _where(b, **where), _order(b, values.get("sort", ()))


def _as_of_status(b: Binds, as_of: datetime, statuses: tuple[str, ...]) -> str:
    """The status filter on the status at ``as_of`` (a run that ended after it was running)."""
    status, _ = as_of_columns(b, as_of)
    return b.in_list(f"({status})", outcomes.filter_values(b.conn, statuses))


def _where(b: Binds, *, start: datetime | None = None, end: datetime | None = None,
           crm_sources: tuple[str, ...] = (), statuses: tuple[str, ...] = (), sync_types: tuple[str, ...] = (),
           q: str | None = None, columns: object = None, ended_after: datetime | None = None,
           outside: tuple[datetime, datetime] | None = None, as_of: datetime | None = None) -> str:
    # a status class stands for its aliases too (status=success finds completed runs): scope.runs
    checked = tuple(_text(v, "status") for v in statuses)
    if as_of is not None:  # started before the moment shown
        end = as_of if end is None else min(end, as_of)
    clauses = scope.runs(b, start=start, end=end,
                         crm_sources=tuple(_text(v, "crm_source") for v in crm_sources),
                         sync_types=tuple(_text(v, "sync_type") for v in sync_types),
                         statuses=() if as_of is not None else checked,
                         search=_text(q, "q") if q else None)
    if as_of is not None and checked:
        clauses.append(_as_of_status(b, as_of, checked))
    if outside is not None:
        low, high = outside
        clauses.append(f"(start_time < {b.bind(low)} OR start_time > {b.bind(high)})")
    if ended_after is not None:  # as the overview counts: a failed run that never closed, by its start
        after = b.bind(ended_after)
        clauses.append(f"(end_time >= {after} OR (end_time IS NULL AND {outcomes.in_class(b.conn, 'failed')}"
                       f" AND start_time >= {after}))")
    columns = {} if columns is None else columns
    if not isinstance(columns, dict):
        raise FilterError("filter: not a filter model")
    for column, model in columns.items():
        if column not in COLUMNS:
            raise FilterError(f"filter: unknown column {str(column)[:40]!r}")
        clauses.append(_condition(b, column, model))
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


def _order(b: Binds, sort: tuple[tuple[str, str], ...]) -> str:
    parts: list[str] = []
    for column, direction in sort or (("start_time", "desc"),):
        if column not in COLUMNS:
            raise FilterError(f"sort: unknown column {str(column)[:40]!r}")
        if direction not in ("asc", "desc"):
            raise FilterError(f"sort: direction of {column} must be asc or desc")
        # NOT NULL columns keep their index order (start_time DESC walks its index backwards);
        # a NULLS clause there would force a sort of every matching row.
        nulls = "" if column in NOT_NULL else " NULLS LAST"
        # on PostgreSQL an interval sorts like its seconds, without numeric arithmetic per row
        expression = f"({span_sql(b.conn)})" if column == "duration_seconds" and b.postgres else \
            _expression(b, column)
        parts.append(f"{expression} {direction.upper()}{nulls}")
    if not any(column == "id" for column, _ in sort):
        parts.append("id DESC")
    return "ORDER BY " + ", ".join(parts)


def parse_sort(text: str | None) -> tuple[tuple[str, str], ...]:
    """``start_time:desc,crm_source:asc`` -> (("start_time", "desc"), ("crm_source", "asc"))."""
    if not text:
        return ()
    return sort_pairs([(column, direction) for column, _, direction in
                       (part.strip().partition(":") for part in text.split(","))])


def sort_pairs(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """(column id, direction) pairs checked against COLUMNS; a direction is asc (the default) or desc."""
    checked = []
    for column, direction in pairs:
        if column not in COLUMNS:
            raise FilterError(f"sort: unknown column {column[:40]!r}")
        if (direction or "asc").lower() not in ("asc", "desc"):
            raise FilterError(f"sort: direction of {column} must be asc or desc")
        checked.append((column, (direction or "asc").lower()))
    if len(checked) > len(COLUMNS):
        raise FilterError("sort: too many columns")
    return tuple(checked)


MAX_FILTER_CHARS = 20_000


def parse_filter_model(text: str | None) -> dict:
    """AG Grid's filter model from its JSON text (``check_filter_model``); empty text is no filter."""
    if not text:
        return {}
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"filter: longer than {MAX_FILTER_CHARS} characters")
    try:
        model = json.loads(text)
    except ValueError:
        raise FilterError("filter: not valid JSON") from None
    except RecursionError:
        raise FilterError("filter: nested too deeply") from None
    return check_filter_model(model)


def _holds_nul(value: object) -> bool:
    """A NUL character in any key or text of decoded JSON (its text escapes NUL as \\u0000)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(_holds_nul(v) for v in value)


def check_filter_model(model: object) -> dict:
    """AG Grid's filter model, a JSON object of column filters on COLUMNS, as it is; each filter's
    values are checked when its SQL is written."""
    if not isinstance(model, dict):
        raise FilterError("filter: must be a JSON object of column filters")
    try:
        text = json.dumps(model, ensure_ascii=False, separators=(",", ":"))
        nul = _holds_nul(model)
    except (TypeError, ValueError):
        raise FilterError("filter: not a JSON object of column filters") from None
    except RecursionError:
        raise FilterError("filter: nested too deeply") from None
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"filter: longer than {MAX_FILTER_CHARS} characters")
    if nul:
        raise FilterError("filter: contains a NUL character, which no column holds")
    unknown = [str(column)[:40] for column in model if column not in COLUMNS]
    if unknown:
        raise FilterError(f"filter: unknown column {unknown[0]!r}")
    return model


_PAGE = """
SELECT id, crm_source, sync_type, {status} AS status, {status_class} AS status_class, start_time,
       {end_time} AS end_time, records_processed,
       records_created, records_updated, records_failed,
       SUBSTR(error_message, 1, 300) AS error_excerpt, LENGTH(error_message) AS error_excerpt_length
FROM {h}
{where}
{order}
LIMIT :limit OFFSET :offset
"""

# PostgreSQL, sorted by another column than start_time: the page's ids first (an index that holds
# the sort key, id and start_time answers that alone, without reading a row: README, "Indexes
# worth adding"), then those rows. The same rows in the same order as _PAGE.
_PAGE_BY_IDS = """
SELECT id, crm_source, sync_type, {status} AS status, {status_class} AS status_class, start_time,
       {end_time} AS end_time, records_processed,
       records_created, records_updated, records_failed,
       SUBSTR(error_message, 1, 300) AS error_excerpt, LENGTH(error_message) AS error_excerpt_length
FROM {h}
WHERE id IN (SELECT id FROM {h} {where} {order} LIMIT :limit OFFSET :offset)
{order}
"""


def history_page(db: Connectable, offset: int, limit: int, now: datetime,
                 **values: Unpack[FilterValues]) -> pd.DataFrame:
    """Rows ``offset`` .. ``offset + limit`` of the history filtered and sorted as ``values`` say."""
    if not 0 <= offset <= 10_000_000 or not 1 <= limit <= MAX_PAGE:
        raise FilterError(f"page: offset 0..10000000 and limit 1..{MAX_PAGE}")
    with connect(db) as conn:
        b, where, order = _clauses(conn, values)
        by_ids = b.postgres and any(column != "start_time" for column, _ in values.get("sort", ()))
        status, end_time = as_of_columns(b, values.get("as_of"))
        statement = sql((_PAGE_BY_IDS if by_ids else _PAGE).format(
            h=table(conn, "sync_history"), where=where, order=order, status=status, end_time=end_time,
            status_class=outcomes.class_case(conn, column=f"({status})")),
            times=TIMES, params=tuple(b.time_params))
        frame = read_frame(conn, statement, {**b.params, "limit": limit, "offset": offset}, times=TIMES)
    return add_duration(frame, now)


def rollup_count(db: Connectable, cap: int = 100_000, **values: Unpack[FilterValues]) -> int | None:
    """The exact count of ``values`` from the run rollups (``run_rollups.rollup_count``), or None when
    ``f`` holds what their keys cannot say: text search, grid column filters, ``ended_after``,
    impossible times (never rolled up), or a status that is not a whole class."""
    if values.get("q") or values.get("columns") or values.get("ended_after") is not None \
            or values.get("outside") is not None:
        return None
    as_of = values.get("as_of")
    start, end = values.get("start"), values.get("end")
    if as_of is not None:
        end = as_of if end is None else min(end, as_of)
    classes = run_rollups.classes_of(values.get("statuses", ()))
    if classes is None:
        return None
    keys = (tuple(values.get("crm_sources", ())), tuple(values.get("sync_types", ())))
    total = run_rollups.rollup_count(db, start, end, *keys, classes, cap)
    if total is None or as_of is None or not classes:
        return total
    # rolled up by the stored status; at as_of a run that ended after it was running (as_of_columns)
    total -= ended_after(db, as_of, start, end, *keys, classes)
    return total + (ended_after(db, as_of, start, end, *keys) if "running" in classes else 0)


def history_count(db: Connectable, cap: int = 100_000, **values: Unpack[FilterValues]) -> tuple[int, bool]:
    """(rows matching, exact?). From the run rollups when the filter can be said in their keys
    (``rollup_count``: a window, CRMs, sync types, status classes), exact at any size.
    Otherwise counting stops at ``cap``; past it PostgreSQL's planner estimate is returned with
    exact=False, which the page shows as "about"."""
    rolled = rollup_count(db, cap, **values)
    if rolled is not None:
        return rolled, True
    with connect(db) as conn:
        b, where, _ = _clauses(conn, values)
        h = table(conn, "sync_history")
        capped = sql(f"SELECT COUNT(*) FROM (SELECT 1 FROM {h} {where} LIMIT :cap) AS capped",
                     params=tuple(b.time_params))
        count = int(conn.execute(capped, {**b.params, "cap": cap + 1}).scalar_one())
        if count <= cap:
            return count, True
        if b.postgres:
            plan = conn.execute(sql(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {h} {where}",
                                    params=tuple(b.time_params)), b.params).scalar_one()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            return max(int(plan[0]["Plan"]["Plan Rows"]), cap + 1), False
        return cap + 1, False


def history_row(db: Connectable, run_id: int) -> dict | None:
    """Every column of one run, times as UTC timestamps, long texts cut in SQL with their lengths
    (``queries.run_detail.run_row``), JSON columns as Python values when whole."""
    row = run_row(db, run_id)
    if row is None:
        return None
    for column in ("configuration", "performance_metrics"):
        if isinstance(row.get(column), str) and len(row[column]) == length_of(row.get(f"{column}_length")):
            with contextlib.suppress(ValueError):
                row[column] = json.loads(row[column])
    return row


def export_select(conn: Connection, *, iso_times: bool = False, neutralise: bool = False,
                  **values: Unpack[FilterValues]) -> tuple[TextClause, Binds]:
    """The export's SELECT (EXPORT_COLUMNS, filtered and sorted) and its bound parameters.

    ``iso_times`` formats times as ISO 8601 UTC text in SQL (PostgreSQL), for COPY; a timestamp
    column is read in the session zone, which the engine sets to the data zone. ``neutralise``
    (PostgreSQL, for the CSV COPY) puts a single quote before text starting with a formula character."""
    b, where, order = _clauses(conn, values)
    as_of = values.get("as_of")
    status_at, end_at = as_of_columns(b, as_of)
    duration = _expression(b, "duration_seconds")
    if as_of is not None:  # a run running at as_of: its duration up to then
        duration = f"CASE WHEN end_time > {b.bind(as_of)} THEN NULL ELSE {duration} END"
    if iso_times:
        start, end = iso_time_sql("start_time"), iso_time_sql(f"({end_at})", "end_time")
        duration = f"ROUND(CAST({duration} AS NUMERIC), 3)"
    else:
        start, end = "start_time", f"{end_at} AS end_time"
    text_columns = {c: neutralised_text_sql(c) if neutralise else c for c in EXPORT_TEXT_COLUMNS}
    if as_of is not None:
        text_columns["status"] = (neutralised_text_sql(f"({status_at})", "status") if neutralise
                                  else f"{status_at} AS status")
    crm_source, sync_type, endpoint, status, error_message = text_columns.values()
    statement = (f"SELECT id, {crm_source}, {sync_type}, {endpoint}, {status}, {start}, {end}, "
                 f"{duration} AS duration_seconds, "
                 f"records_processed, records_created, records_updated, records_failed, {error_message} "
                 f"FROM {table(conn, 'sync_history')} {where} {order}")
    times = () if iso_times else TIMES
    return sql(statement, times=times, params=tuple(b.time_params)), b


def iso_time_sql(column: str, name: str | None = None) -> str:
    """``column`` as the export writes a time (PostgreSQL, for COPY): ISO 8601 UTC with a Z by
    to_json (a T at a third of to_char's cost); ±infinity as "infinity" / "-infinity"; an instant
    outside years 1..9999 of UTC clamped as the app clamps it (``queries.time_bounds``).
    A timestamp column is read in the session zone, which the engine sets to the data zone."""
    utc = f"(({column}::timestamptz) AT TIME ZONE 'UTC')"
    return (f"CASE WHEN NOT isfinite({column}) THEN {column}::text "
            f"WHEN {utc} < '0001-01-01' THEN '0001-01-01T00:00:00Z' "
            f"WHEN {utc} >= '10000-01-01' THEN '9999-12-31T23:59:59.999998Z' "
            f"ELSE (to_json({utc}) #>> '{{}}') || 'Z' END AS {name or column}")


def history_rows(db: Connectable, chunk: int = 5000, **values: Unpack[FilterValues]) -> Iterator[list[tuple]]:
    """Every matching row, in chunks, from a server-side cursor (flat memory on PostgreSQL).

    Times are aware UTC datetimes on SQLite; on PostgreSQL the export's text (``iso_time_sql``),
    which tells ±infinity from the finite instants the app uses to stand for them. The column
    order is EXPORT_COLUMNS.
    """
    with connect(db) as conn:
        postgres = conn.dialect.name == "postgresql"
        statement, b = export_select(conn, iso_times=postgres, **values)
        zone = data_zone(conn)
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(statement, b.params)
        for rows in result.partitions(chunk):
            if postgres:
                yield [(*row[:7], _round(row[7]), *row[8:]) for row in rows]
                continue
            yield [(*row[:5], _utc(row[5], zone), _utc(row[6], zone), _round(row[7]), *row[8:]) for row in rows]


def _round(seconds: object) -> float | None:
    return None if seconds is None else round(float(seconds), 3)


def _utc(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A time of the export as aware UTC; ±infinity kept, never an overflow (``utc_moment``)."""
    return utc_moment(value, zone)

