"""The history's filter, sort, paging and count in SQL, on PostgreSQL and SQLite, checked against
the same rules applied in Python to the rows the test wrote."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashapp.storage.sync_tables import sync_history
from queries.bad_parameter import FilterError
from queries.choices import distinct_values
from queries.clock import utc_now
from queries.history import FilterValues, history_count, history_page, history_row, history_rows
from tests.support.rows import Run, history_runs, insert_runs


@pytest.fixture
def written(db):
    now = utc_now()
    return db, insert_runs(db, history_runs(), now), now


def ids_of(db, f: FilterValues, now, limit=1000) -> list[int]:
    return [int(i) for i in history_page(db, 0, limit, now, **f)["id"]]


def newest_first(runs: list[Run]) -> list[int]:
    return [r.id for r in sorted(runs, key=lambda r: (r.start_ago, -r.id))]


def text_filter(column, op, value="") -> FilterValues:
    return FilterValues(columns={column: {"filterType": "text", "type": op, "filter": value}})


@pytest.mark.parametrize(("op", "value", "rule"), [
    ("contains", "too many", lambda e: e is not None and "too many" in e.lower()),
    ("notContains", "429", lambda e: e is None or "429" not in e),
    ("equals", "ReadTimeout: api.callrail.com", lambda e: e == "ReadTimeout: api.callrail.com"),
    ("notEqual", "ReadTimeout: api.callrail.com", lambda e: e != "ReadTimeout: api.callrail.com"),
    ("startsWith", "Ошибка", lambda e: e is not None and e.startswith("Ошибка")),
    ("endsWith", "DROP", lambda e: e is not None and e.endswith("DROP")),
    ("blank", "", lambda e: not e),
    ("notBlank", "", lambda e: bool(e)),
    ("contains", "100%_", lambda e: e is not None and "100%_" in e),  # wildcards are literal
    ("contains", "%", lambda e: e is not None and "%" in e),
])
def test_text_operators(written, op, value, rule):
    db, runs, now = written
    expected = newest_first([r for r in runs if rule(r.error)])
    assert ids_of(db, text_filter("error_message", op, value), now) == expected


@pytest.mark.parametrize(("model", "rule"), [
    ({"type": "equals", "filter": 74}, lambda v: v == 74),
    ({"type": "notEqual", "filter": 74}, lambda v: v != 74),
    ({"type": "lessThan", "filter": 100}, lambda v: v is not None and v < 100),
    ({"type": "lessThanOrEqual", "filter": 111}, lambda v: v is not None and v <= 111),
    ({"type": "greaterThan", "filter": 400}, lambda v: v is not None and v > 400),
    ({"type": "greaterThanOrEqual", "filter": 407}, lambda v: v is not None and v >= 407),
    ({"type": "inRange", "filter": 300, "filterTo": 100}, lambda v: v is not None and 100 <= v <= 300),
    ({"type": "blank"}, lambda v: v is None),
])
def test_number_operators(written, model, rule):
    db, runs, now = written
    f = FilterValues(columns={"records_processed": {"filterType": "number", **model}})
    assert ids_of(db, f, now) == newest_first([r for r in runs if rule(r.processed)])


def test_date_operators_take_whole_days_in_the_viewers_zone(written):
    db, runs, now = written
    zone = "Asia/Tokyo"
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo(zone)
    day = (now - timedelta(days=3)).astimezone(tokyo).date()
    start_day = lambda r: r.start(now).astimezone(tokyo).date()  # noqa: E731
    cases = [
        ({"type": "equals", "dateFrom": f"{day} 00:00:00"}, lambda r: start_day(r) == day),
        ({"type": "lessThan", "dateFrom": f"{day} 00:00:00"}, lambda r: start_day(r) < day),
        ({"type": "greaterThan", "dateFrom": f"{day} 00:00:00"}, lambda r: start_day(r) > day),
        ({"type": "inRange", "dateFrom": f"{day - timedelta(days=2)} 00:00:00", "dateTo": f"{day} 00:00:00"},
         lambda r: day - timedelta(days=2) <= start_day(r) <= day),
    ]
    for model, rule in cases:
        f = FilterValues(columns={"start_time": {"filterType": "date", **model}}, zone=zone)
        expected = newest_first([r for r in runs if rule(r)])
        assert expected, model
        assert ids_of(db, f, now) == expected, model


def test_combined_conditions_and_quick_filters(written):
    db, runs, now = written
    f = FilterValues(
        start=now - timedelta(days=7), crm_sources=("hubspot", "genius"), statuses=("failed", "partial", "weird"),
        sync_types=("contacts",), q="TOO",
        columns={"records_processed": {"filterType": "number", "operator": "OR", "conditions": [
            {"type": "lessThan", "filter": 100}, {"type": "greaterThan", "filter": 300}]}},
    )

    def rule(r: Run) -> bool:
        return (r.start_ago <= timedelta(days=7) and r.crm_source in ("hubspot", "genius")
                and r.status in ("failed", "partial", "weird") and r.sync_type == "contacts"
                and r.error is not None and "too" in r.error.lower()
                and r.processed is not None and (r.processed < 100 or r.processed > 300))

    expected = newest_first([r for r in runs if rule(r)])
    assert ids_of(db, f, now) == expected
    assert history_count(db, **f) == (len(expected), True)


def test_multi_sort_with_nulls_last(written):
    db, runs, now = written
    f = FilterValues(sort=(("crm_source", "asc"), ("records_processed", "desc")))
    got = ids_of(db, f, now)
    with_value = sorted([r for r in runs if r.processed is not None], key=lambda r: (r.crm_source, -r.processed, -r.id))
    expected = []
    for crm in sorted({r.crm_source for r in runs}):
        expected += [r.id for r in with_value if r.crm_source == crm]
        expected += [r.id for r in sorted(runs, key=lambda r: -r.id) if r.crm_source == crm and r.processed is None]
    assert got == expected


def test_duration_sort_and_filter(written):
    db, runs, now = written
    f = FilterValues(sort=(("duration_seconds", "desc"),),
                      columns={"duration_seconds": {"filterType": "number", "type": "greaterThan", "filter": 60}})
    durations = {r.id: (r.start_ago - r.end_ago).total_seconds() for r in runs if r.end_ago is not None}
    expected = [i for i, _ in sorted(((i, d) for i, d in durations.items() if d > 60), key=lambda p: (-p[1], -p[0]))]
    assert ids_of(db, f, now) == expected


def test_pages_tile_the_whole_result(written):
    db, runs, now = written
    f = FilterValues(sort=(("records_created", "asc"),))
    whole = ids_of(db, f, now)
    pages = []
    for offset in range(0, len(runs), 7):
        pages += [int(i) for i in history_page(db, offset, 7, now, **f)["id"]]
    assert pages == whole and len(whole) == len(runs)
    assert history_page(db, len(runs), 7, now, **f).empty


def test_count_caps_and_says_so(written):
    db, runs, now = written
    assert history_count(db) == (len(runs), True)
    count, exact = history_count(db, cap=10)
    assert not exact and count > 10


HOSTILE = ["'; DROP TABLE orchestration.sync_history; --", "\" OR 1=1 --", "/* */ UNION SELECT 1", "%' OR '1'='1",
           "\\", "' ; DELETE FROM orchestration.sync_history WHERE ''='"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_is_only_ever_a_value(written, value):
    db, runs, now = written
    for column in ("crm_source", "error_message", "status"):
        for op in ("contains", "equals", "startsWith"):
            assert ids_of(db, text_filter(column, op, value), now) == []
    assert ids_of(db, FilterValues(crm_sources=(value,), q=value), now) == []
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sync_history)).scalar_one() == len(runs)


@pytest.mark.parametrize(("f", "message"), [
    (FilterValues(columns={"nope; DROP": {"filterType": "text", "type": "contains", "filter": "x"}}),
     "unknown column"),
    (FilterValues(columns={"status": {"filterType": "text", "type": "regex", "filter": "x"}}),
     "unknown text operator"),
    (FilterValues(columns={"records_failed": {"filterType": "number", "type": "equals", "filter": "ten"}}),
     "is not a number"),
    (FilterValues(columns={"records_failed": {"filterType": "number", "type": "equals", "filter": "nan"}}),
     "not a usable number"),
    (FilterValues(columns={"start_time": {"filterType": "date", "type": "equals", "dateFrom": "Tuesday"}}),
     "not an ISO 8601"),
    (FilterValues(columns={"error_message": {"filterType": "text", "type": "contains", "filter": "x" * 10_240}}),
     "longer than 1000"),
    (FilterValues(q="a\x00b"), "NUL"),
    (FilterValues(sort=(("id; DROP TABLE x", "asc"),)), "unknown column"),
    (FilterValues(sort=(("id", "sideways"),)), "asc or desc"),
    (FilterValues(columns={"status": "contains"}), "not a filter model"),
])
def test_filters_that_cannot_apply_say_why(written, f, message):
    db, runs, now = written
    with pytest.raises(FilterError, match=message):
        history_page(db, 0, 10, now, **f)
    assert history_count(db)[0] == len(runs)


def test_one_row_has_every_column(written):
    db, runs, now = written
    unicode_run = next(r for r in runs if r.error and r.error.startswith("Ошибка"))
    row = history_row(db, unicode_run.id)
    assert row["error_message"] == unicode_run.error and row["crm_source"] == unicode_run.crm_source
    assert row["configuration"] == {} and row["performance_metrics"] == {}
    assert history_row(db, 10**9) is None


def test_streamed_rows_match_the_page_query(written):
    db, runs, now = written
    f = FilterValues(statuses=("failed", "success"), sort=(("records_updated", "desc"),))
    streamed = [row for chunk in history_rows(db, chunk=4, **f) for row in chunk]
    assert [row[0] for row in streamed] == ids_of(db, f, now)
    by_id = {r.id: r for r in runs}
    for row in streamed:
        run = by_id[row[0]]
        # PostgreSQL sends the export's ISO text (SQL tells infinity from a finite time); SQLite datetimes
        start = datetime.fromisoformat(row[5]) if isinstance(row[5], str) else row[5]
        assert abs((start - run.start(now)).total_seconds()) < 1e-3
        assert start.utcoffset() == timedelta(0)


def test_filter_choices_are_the_distinct_values(written):
    db, runs, _ = written
    assert distinct_values(db, "crm_source") == sorted({r.crm_source for r in runs})
    assert distinct_values(db, "status") == sorted({r.status for r in runs})
    assert distinct_values(db, "sync_type") == sorted({r.sync_type for r in runs})


def test_a_block_that_cannot_be_read_is_left_to_the_grid(dash_app, use_engine, pg_engine):
    """A filter the query cannot apply: the server does not answer the grid (no_update), it names
    the filter and hands the failure to the clientside keepHistoryRows, which answers with the rows
    the grid shows (tests/web/test_outage_browser.py)."""
    from dash import no_update

    from dashapp.web.pages.history import load_rows

    use_engine(pg_engine)
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    good = load_rows({"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}},
                     "all", "", "", [], [], [], "", "UTC")
    assert good[0]["rowCount"] == len(runs) and good[1] == f"{len(runs):,} matching runs"
    bad_request = {"startRow": 0, "endRow": 100, "sortModel": [],
                   "filterModel": {"records_failed": {"filterType": "number", "type": "equals", "filter": "lots"}}}
    kept, count, message, shown, color, *_, failed = load_rows(bad_request, "all", "", "", [], [], [], "", "UTC")
    assert kept is no_update and count is no_update and shown is True and color == "warning"
    assert "filter: column records_failed: 'lots' is not a number" in message
    assert set(failed) == {"at"}


def test_past_the_scroll_limit_the_grid_grows_as_it_is_scrolled(dash_app, use_engine, pg_engine, monkeypatch):
    """An exact count above SCROLL_ROWS is shown, but not given to the grid as its row count, so
    dragging the scrollbar never asks for a page that deep; the last block still ends the grid."""
    from dashapp.web.pages import history

    use_engine(pg_engine)
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    monkeypatch.setattr(history, "SCROLL_ROWS", len(runs) - 1)
    first = history.load_rows({"startRow": 0, "endRow": 5, "sortModel": [], "filterModel": {}},
                              "all", "", "", [], [], [], "", "UTC")
    assert first[0]["rowCount"] is None and len(first[0]["rowData"]) == 5  # None, not absent: see _rows_answer
    assert first[1] == f"{len(runs):,} matching runs"
    last = history.load_rows({"startRow": 5, "endRow": 5 + len(runs), "sortModel": [], "filterModel": {}},
                             "all", "", "", [], [], [], "", "UTC")
    assert last[0]["rowCount"] == len(runs)
