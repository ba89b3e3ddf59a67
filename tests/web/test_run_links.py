"""Numbers lead somewhere: each overview card's link opens a history whose count is the card's
number (on PostgreSQL and SQLite); ``ended_after`` is a checked parameter; the run page says
what is wrong with a bad id; data reaching the run page's figures is escaped."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from dashapp.errors import BadParameter
from dashapp.payloads.card_links import card_links
from dashapp.payloads.history import HistoryFilter
from dashapp.web.components import run_figures
from queries.clock import utc_now
from queries.history import history_count
from queries.overview import overview_counts
from tests.support.rows import Run, insert_runs

DAY = timedelta(hours=24)


def _count(db, link: str, now) -> int:
    args = parse_qs(urlsplit(link).query)
    count, exact = history_count(db, **HistoryFilter.parse(args, now).query_values())
    assert exact
    return count


def test_each_card_link_counts_what_the_card_counts(db):
    now = utc_now()
    insert_runs(db, [
        Run("genius", "jobs", "failed", DAY + timedelta(hours=2), DAY - timedelta(hours=1), error="began earlier"),
        Run("genius", "jobs", "failed", timedelta(hours=3), timedelta(hours=2), error="y"),
        Run("five9", "calls", "failed", DAY + timedelta(hours=3), DAY + timedelta(hours=2), error="too old"),
        Run("five9", "calls", "success", timedelta(hours=2), timedelta(hours=1)),
        Run("five9", "calls", "success", DAY + timedelta(hours=1), DAY - timedelta(minutes=30)),
        Run("five9", "calls", "success", DAY + timedelta(hours=1), DAY + timedelta(minutes=30)),
        Run("arrivy", "tasks", "partial", timedelta(hours=4), timedelta(hours=3), error="2 rejected"),
        Run("arrivy", "tasks", "running", timedelta(minutes=5), None),
        Run("arrivy", "tasks", "running", DAY * 2, None),
    ], now)
    counts = overview_counts(db, now)
    links = card_links(now)
    assert _count(db, links["active"], now) == counts.active_syncs == 2
    assert _count(db, links["completed"], now) == counts.completed_today == 2
    assert _count(db, links["failed"], now) == counts.failed_today == 2
    assert _count(db, links["partial"], now) == counts.partial_today == 1
    assert _count(db, links["success-rate"], now) == counts.completed_today + counts.failed_today


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "\x00"])
def test_a_bad_ended_after_is_named(value):
    with pytest.raises(BadParameter, match="ended_after"):
        HistoryFilter.parse({"ended_after": [value]}, utc_now())


def test_the_export_takes_ended_after(dash_app, use_engine, db):
    now = utc_now()
    old, new = insert_runs(db, [Run("genius", "jobs", "failed", DAY * 2, DAY * 2 - timedelta(minutes=1), error="a"),
                                Run("genius", "jobs", "failed", timedelta(hours=1), timedelta(minutes=30), error="b")],
                           now)
    use_engine(db)
    link = card_links(now)["failed"]
    body = dash_app.server.test_client().get("/export/sync-history.csv?" + urlsplit(link).query).get_data(as_text=True)
    ids = [int(line.split(",")[0]) for line in body.splitlines()[1:]]
    assert ids == [new.id] and old.id not in ids
    bad = dash_app.server.test_client().get("/export/sync-history.csv?ended_after=soon")
    assert bad.status_code == 400 and "ended_after" in bad.get_json()["error"]


def test_the_run_page_names_a_bad_id(dash_app):
    from dashapp.web.pages import runs as run

    text = str(run.layout(run_id="12abc"))
    assert "is not a run id" in text and "/runs/42" in text


def test_run_figures_escape_the_data():
    evil = "<img src=x onerror=alert(1)>"
    page = {"run": {"id": 1, "start_time": "2026-11-20T12:00:00Z", "status": evil, "status_class": "failed",
                    "duration_seconds": 10.0, "records_processed": 5},
            "api_calls": [{"called_at": "2026-11-20T12:00:03Z", "method": "GET", "endpoint": "/x" + evil,
                           "status": 429, "duration_ms": 12.0, "error": evil}],
            "breaker_events": [{"occurred_at": "2026-11-20T12:00:04Z", "breaker": evil, "to_state": "OPEN"}],
            "previous_runs": [{"id": 0, "status": evil, "status_class": "failed", "duration_seconds": 3.0,
                               "records_processed": 2}]}
    for figure in (run_figures.calls_timeline(page), run_figures.previous_runs(page)):
        text = str(figure.to_dict())  # the Python values, before any JSON encoding
        assert "<img" not in text and "&lt;img" in text
