"""One parser for the history's parameters (URL, export, grid model) and one typed error naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashapp.errors import BadParameter
from dashapp.payloads import alerts, failed, history_params
from queries.history import FilterError

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
        history_params.parse(args, NOW)
    assert caught.value.name == name and str(caught.value).startswith(f"{name}: ") and caught.value.problem


def test_a_filter_error_is_a_bad_parameter():
    error = FilterError("sort: unknown column 'x'")
    assert isinstance(error, BadParameter) and (error.name, error.problem) == ("sort", "unknown column 'x'")


def test_one_list_of_age_and_range_choices():
    assert history_params.RANGES is history_params.AGES is failed.AGES is alerts.AGES
    assert history_params.parse({"range": ["24h"]}, NOW).start == NOW - timedelta(hours=24)
