"""One parser for query-string parameters (windows, numbers, the history's filter) and one typed
error naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashapp.errors import BadParameter
from dashapp.payloads import alerts, failed, params
from dashapp.payloads.history import HistoryFilter
from queries.bad_parameter import FilterError

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("args", "name"), [
    ({"start": ["yesterday"]}, "start"),
    ({"end": ["2026-13-01"]}, "end"),
    ({"ended_after": ["soon"]}, "ended_after"),
    ({"start": ["2026-11-02"], "end": ["2026-11-01"]}, "end"),
    ({"range": ["1y"]}, "range"),
    ({"sort": ["password:asc"]}, "sort"),
    ({"filter": ["{not json"]}, "filter"),
    ({"crm_source": ["a\x00b"]}, "crm_source"),
])
def test_a_bad_parameter_is_one_typed_error_naming_it(args, name):
    with pytest.raises(BadParameter) as caught:
        HistoryFilter.parse(args, NOW)
    assert caught.value.name == name and str(caught.value).startswith(f"{name}: ") and caught.value.problem


def test_a_filter_error_is_a_bad_parameter():
    error = FilterError("sort: unknown column 'x'")
    assert isinstance(error, BadParameter) and (error.name, error.problem) == ("sort", "unknown column 'x'")


def test_one_list_of_age_and_range_choices():
    assert list(params.RANGES) == ["24h", "7d", "30d", "90d", "all"]
    for chosen in params.RANGES:  # the failed operations and alerts read their window through params.window
        args = {"range": [chosen]}
        assert failed.operation_filter(args, NOW).since == alerts.alert_filter(args, NOW)["since"] \
            == params.window(args, NOW).start
    assert HistoryFilter.parse({"range": ["24h"]}, NOW).start == NOW - timedelta(hours=24)


@pytest.mark.parametrize(("chosen", "span"), [("24h", timedelta(hours=24)), ("7d", timedelta(days=7)),
                                              ("30d", timedelta(days=30)), ("90d", timedelta(days=90))])
def test_a_named_range_reaches_back_its_span_from_now(chosen, span):
    assert params.window({"range": [chosen]}, NOW) == params.Window(chosen, NOW - span)
    assert params.window({"range": [chosen]}, NOW).to_args() == {"range": [chosen]}


def test_all_reaches_back_to_the_first_row_and_absent_is_the_routes_default():
    assert params.window({"range": ["all"]}, NOW) == params.Window("all", None)
    assert params.window({}, NOW) == params.Window("7d", NOW - timedelta(days=7))
    assert params.window({}, NOW, default="24h") == params.Window("24h", NOW - timedelta(hours=24))


def test_start_and_end_make_a_custom_window_that_wins_over_range():
    got = params.window({"range": ["24h"], "start": ["2026-11-01"], "end": ["2026-11-02T06:00:00+01:00"]}, NOW)
    assert got == params.Window("custom", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC))
    assert params.window(got.to_args(), NOW) == got
    ended = params.Window("custom", None, datetime(2026, 11, 2, tzinfo=UTC))
    assert params.window({"end": ["2026-11-02"]}, NOW) == ended


@pytest.mark.parametrize(("args", "expected"), [
    ({"age": ["30d"]}, params.Window("30d", NOW - timedelta(days=30))),
    ({"days": ["3"]}, params.Window("custom", NOW - timedelta(days=3))),
    ({"hours": ["6"]}, params.Window("custom", NOW - timedelta(hours=6))),
    ({"range": ["24h"], "days": ["3"], "age": ["all"]}, params.Window("24h", NOW - timedelta(hours=24))),
])
def test_the_deprecated_names_still_choose_a_window_when_range_is_absent(args, expected):
    assert params.window(args, NOW) == expected


@pytest.mark.parametrize(("args", "name"), [
    ({"range": ["1y"]}, "range"), ({"range": ["7D"]}, "range"), ({"age": ["forever"]}, "age"),
    ({"days": ["0"]}, "days"), ({"days": ["seven"]}, "days"), ({"hours": ["87601"]}, "hours"),
    ({"start": ["yesterday"]}, "start"), ({"start": ["2026-11-02"], "end": ["2026-11-02"]}, "end"),
    ({"range": ["a\x00"]}, "range"),
])
def test_a_bad_window_is_a_bad_parameter_naming_it(args, name):
    with pytest.raises(BadParameter) as caught:
        params.window(args, NOW)
    assert caught.value.name == name


def test_a_whole_number_is_bounded_and_named():
    assert params.whole({}, "limit", 20, 1, 500) == 20
    assert params.whole({"limit": [" 7 "]}, "limit", 20, 1, 500) == 7
    for raw, problem in (("0", "between 1 and 500"), ("501", "between 1 and 500"), ("1e3", "whole number")):
        with pytest.raises(BadParameter, match=problem) as caught:
            params.whole({"limit": [raw]}, "limit", 20, 1, 500)
        assert caught.value.name == "limit"


def test_at_is_the_moment_a_view_shows_and_is_checked():
    from dashapp.payloads import paths

    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert params.at({}, now) is None and params.viewing({}, now) == now
    asked = now - timedelta(days=1, minutes=48)
    assert params.at({"at": [asked.strftime("%Y-%m-%dT%H:%M:%SZ")]}, now) == asked
    assert params.viewing({"at": [asked.strftime("%Y-%m-%d %H:%M:%S")]}, now) == asked  # no offset: UTC
    assert params.at({"at": [(asked + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")]}, now) == asked
    for bad, words in (("tomorrow", "not an ISO 8601"), ((now + timedelta(seconds=1)).isoformat(), "in the future"),
                       ("1999-12-31T23:59:59Z", "on or after 2000-01-01"), ("0000-01-01", "not an ISO 8601")):
        with pytest.raises(BadParameter) as raised:
            params.at({"at": [bad]}, now)
        assert raised.value.name == "at" and words in raised.value.problem
    link = paths.with_at("/history?crm_source=a%26b#grid", asked)
    assert link == f"/history?crm_source=a%26b&at={asked:%Y-%m-%dT%H:%M:%SZ}#grid"
    assert paths.with_at("/history", None) == "/history" and paths.with_at(link, now) == link
