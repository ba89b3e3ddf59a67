"""The history's filter is one object (``dashapp.payloads.history.HistoryFilter``),
built from a URL or from the page's controls and the grid's block, and written back as the URL that
asks for it again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from dashapp.errors import BadParameter
from dashapp.payloads.history import GridBlock, HistoryFilter
from queries import impossible_times

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
GRID_FILTER = {"records_processed": {"filterType": "number", "type": "greaterThan", "filter": 3}}


def _args(search: str) -> dict[str, list[str]]:
    return parse_qs(search.removeprefix("?"))


@pytest.mark.parametrize("search", [
    "",
    "?range=24h&crm_source=hubspot%2Cgenius&status=failed&q=timeout",
    "?start=2026-11-01T00%3A00%3A00Z&end=2026-11-02T06%3A30%3A00Z&range=all&sync_type=calls",
    "?end=2026-11-02T00%3A00%3A00Z&range=all",
    "?ended_after=2026-11-29T12%3A00%3A00Z&range=all&status=failed",
    "?times=impossible&range=all",
    "?range=90d&filter=%7B%22records_processed%22%3A%7B%22filterType%22%3A%22number%22%2C%22type%22%3A"
    "%22greaterThan%22%2C%22filter%22%3A3%7D%7D&sort=crm_source%3Aasc%2Crecords_processed%3Adesc",
])
def test_to_search_asks_for_the_same_filter_again(search):
    selection = HistoryFilter.parse(_args(search), NOW)
    assert selection.to_search() == search
    assert HistoryFilter.parse(_args(selection.to_search()), NOW) == selection


def test_a_url_reads_into_the_values_the_queries_take():
    selection = HistoryFilter.parse(_args("?range=24h&crm_source=genius,genius&status=failed,success"
                                          "&times=impossible&ended_after=2026-11-29"), NOW, zone="Europe/Berlin")
    assert selection.range == "24h"
    assert selection.query_values() == {
        "start": NOW - timedelta(hours=24), "end": None, "crm_sources": ("genius",),
        "statuses": ("failed", "success"), "sync_types": (), "q": None, "columns": {}, "sort": (),
        "zone": "Europe/Berlin", "ended_after": datetime(2026, 11, 29, tzinfo=UTC),
        "outside": impossible_times.bounds(NOW)}
    assert selection.export_name(NOW, "csv") == "sync-history-20261129-20261130.csv"


def test_the_controls_and_the_grid_block_make_one_filter_and_the_url_the_page_pushes():
    grid = GridBlock.read({"startRow": 200, "endRow": 300, "filterModel": GRID_FILTER,
                           "sortModel": [{"colId": "records_processed", "sort": "desc"}]})
    assert (grid.offset, grid.limit) == (200, 100)
    selection = HistoryFilter.from_controls(
        NOW, grid, range_value="custom", start="2026-11-20T11:00", end="", crm_sources=["hubspot"],
        statuses=None, sync_types=[], q="  time out ", zone="Europe/Berlin", ended_after=None, times=None)
    assert selection.start == datetime(2026, 11, 20, 10, 0, tzinfo=UTC) and selection.end is None
    assert (selection.range, selection.q, selection.zone) == ("custom", "time out", "Europe/Berlin")
    assert (selection.columns, selection.sort) == (GRID_FILTER, (("records_processed", "desc"),))
    search = selection.to_search()
    assert search.startswith("?start=2026-11-20T10%3A00%3A00Z&range=all&crm_source=hubspot&q=time+out&filter=")
    again = HistoryFilter.parse(_args(search), NOW, zone="Europe/Berlin")
    assert again == selection


def test_a_named_range_from_the_controls_reaches_back_from_now():
    selection = HistoryFilter.from_controls(NOW, GridBlock(), range_value="30d", start="2026-11-20T11:00",
                                            end=None, crm_sources=None, statuses=None, sync_types=None, q=None)
    assert (selection.range, selection.start, selection.to_search()) == ("30d", NOW - timedelta(days=30),
                                                                         "?range=30d")


@pytest.mark.parametrize(("request_", "name"), [
    ({"startRow": -1, "endRow": 10}, "startRow"),
    ({"startRow": True}, "startRow"),
    ({"startRow": 0, "endRow": 5000}, "endRow"),
    ({"sortModel": [{"colId": 3, "sort": "asc"}]}, "sort"),
    ({"sortModel": [{"colId": "password", "sort": "asc"}]}, "sort"),
    ({"sortModel": [{"colId": "id", "sort": "sideways"}]}, "sort"),
    ({"filterModel": {"password": {"type": "equals"}}}, "filter"),
    ({"filterModel": ["status"]}, "filter"),
    ({"filterModel": {"status": {"type": "equals", "filter": "a\x00"}}}, "filter"),
    ({"filterModel": {"status": {"conditions": [{"type": "equals", "filter": ["\x00"]}]}}}, "filter"),
    ({"filterModel": {"status": {"type": 2 ** 20000}}}, "filter"),
])
def test_a_bad_grid_block_is_named_as_the_grid_sent_it(request_, name):
    with pytest.raises(BadParameter) as caught:
        GridBlock.read(request_)
    assert caught.value.name == name


def test_a_grid_filter_nested_past_the_stack_is_named():
    model: dict = {}
    for _ in range(50_000):
        model = {"conditions": [model]}
    with pytest.raises(BadParameter, match="^filter: nested too deeply$"):
        GridBlock.read({"filterModel": {"status": model}})


def test_a_bad_control_is_the_first_bad_parameter():
    with pytest.raises(BadParameter) as caught:
        HistoryFilter.from_controls(NOW, GridBlock(), range_value="custom", start="Tuesday", end=None,
                                    crm_sources=None, statuses=None, sync_types=None, q=None)
    assert str(caught.value) == "start: 'Tuesday' is not an ISO 8601 date or time"
