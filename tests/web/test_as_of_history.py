"""The history as of a past moment ``at``: its export (CSV and NDJSON), its grid's rows and count
hold only runs started before it, a run that ended after it as running without an end; live
answers are unchanged; a bad ``at`` is a 400 naming it. PostgreSQL (both shapes) and SQLite."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from urllib.parse import parse_qs, quote

import pytest

from dashapp.display import iso_utc
from queries.clock import utc_now
from queries.history import history_count, history_page
from tests.support.rows import Run, insert_runs

H = timedelta(hours=1)
AT_AGO = 5 * H


@pytest.fixture
def client(dash_app, use_engine, db):
    use_engine(db)
    return dash_app.server.test_client()


def write_runs(db, now) -> list[Run]:
    return insert_runs(db, [
        Run("hubspot", "contacts", "success", 10 * H, 9 * H, processed=10),   # over by at
        Run("hubspot", "contacts", "failed", 6 * H, 2 * H, processed=20),     # ended after at: running then
        Run("hubspot", "deals", "completed", 3 * H, 1 * H, processed=30),     # started after at
        Run("callrail", "calls", "in_progress", 7 * H, None, processed=40),   # still running
        Run("callrail", "calls", "partial", 30 * H, 29 * H, processed=50),    # over by at, a day before it
        Run("genius", "appointments", "failed", 5 * H + timedelta(seconds=1), 4 * H),  # just before at: running
    ], now)


def as_at(run: Run, at_ago: timedelta) -> tuple[str, bool] | None:
    """(status at the moment, ended by it), None when the run had not started."""
    if run.start_ago <= at_ago:
        return None
    ended = run.end_ago is not None and run.end_ago >= at_ago
    return (run.status if ended or run.end_ago is None else "running"), ended


def ndjson(client, query: str) -> list[dict]:
    response = client.get(f"/export/sync-history.csv?format=ndjson&{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_export_as_of_holds_runs_started_by_then_with_their_status_then(client, db):
    now = utc_now().replace(microsecond=0)
    runs = write_runs(db, now)
    at = now - AT_AGO
    lines = ndjson(client, f"range=all&at={quote(iso_utc(at))}")
    expected = {r.id: as_at(r, AT_AGO) for r in runs if as_at(r, AT_AGO) is not None}
    assert {line["id"] for line in lines} == set(expected)
    for line in lines:
        status, ended = expected[line["id"]]
        assert line["status"] == status
        assert (line["end_time"] is not None) == ended
        if not ended:
            assert line["duration_seconds"] is None


def test_a_range_ends_at_the_moment_and_a_later_end_is_cut(client, db):
    now = utc_now().replace(microsecond=0)
    runs = write_runs(db, now)
    at = now - AT_AGO
    lines = ndjson(client, f"range=24h&at={quote(iso_utc(at))}")
    assert {line["id"] for line in lines} == {r.id for r in runs if AT_AGO < r.start_ago <= AT_AGO + 24 * H}
    late_end = iso_utc(now)
    lines = ndjson(client, f"start={quote(iso_utc(now - 8 * H))}&end={quote(late_end)}&at={quote(iso_utc(at))}")
    assert {line["id"] for line in lines} == {r.id for r in runs if AT_AGO < r.start_ago <= 8 * H}


def test_the_status_filter_is_the_status_then(client, db):
    now = utc_now().replace(microsecond=0)
    runs = write_runs(db, now)
    at = now - AT_AGO
    lines = ndjson(client, f"range=all&status=running&at={quote(iso_utc(at))}")
    assert {line["id"] for line in lines} == {
        r.id for r in runs if (as_at(r, AT_AGO) or ("", False))[0] in ("running", "in_progress")}
    lines = ndjson(client, f"range=all&status=failed&at={quote(iso_utc(at))}")
    assert {line["id"] for line in lines} == set()  # both failed runs were running then


def test_csv_file_name_says_the_moment(client, db):
    now = utc_now().replace(microsecond=0)
    runs = write_runs(db, now)
    at = now - AT_AGO
    response = client.get(f"/export/sync-history.csv?range=all&at={quote(iso_utc(at))}")
    assert response.status_code == 200
    assert f'-as-of-{at:%Y%m%dT%H%M%SZ}.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {int(row["id"]) for row in rows} == {r.id for r in runs if as_at(r, AT_AGO) is not None}


def test_live_export_is_unchanged(client, db):
    now = utc_now().replace(microsecond=0)
    runs = write_runs(db, now)
    lines = ndjson(client, "range=all")
    assert {line["id"]: line["status"] for line in lines} == {r.id: r.status for r in runs}
    assert "-as-of-" not in client.get("/export/sync-history.csv?range=all").headers["Content-Disposition"]


def test_grid_rows_and_count_as_of(db):
    now = utc_now().replace(microsecond=0)
    runs = write_runs(db, now)
    at = now - AT_AGO
    page = history_page(db, 0, 100, at, as_of=at)
    expected = {r.id: as_at(r, AT_AGO) for r in runs if as_at(r, AT_AGO) is not None}
    assert set(page["id"]) == set(expected)
    for row in page.to_dict("records"):
        status, ended = expected[row["id"]]
        assert row["status"] == status
        assert (row["end_time"] is not None and row["end_time"] == row["end_time"]) == ended
    assert history_count(db, as_of=at) == (len(expected), True)
    running = sum(1 for status, _ in expected.values() if status in ("running", "in_progress"))
    assert history_count(db, as_of=at, statuses=("running",)) == (running, True)


@pytest.mark.parametrize("value", ["yesterday", "2999-01-01T00:00:00Z", "1999-12-31"])
def test_a_bad_at_is_a_400_naming_it(client, value):
    response = client.get(f"/export/sync-history.csv?at={quote(value)}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("at:")


def test_the_page_grid_answers_as_of_the_url_at(dash_app, use_engine, db):
    from dashapp.web.pages import history as page

    use_engine(db)
    now = utc_now().replace(microsecond=0)
    runs = write_runs(db, now)
    at = now - AT_AGO
    search = f"?at={quote(iso_utc(at))}"
    response, count, message, shown, _color, pushed, download, _failed = page.load_rows(
        {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}, "all", "", "", [], [], [], "", "UTC",
        None, None, search)
    assert message is None and not shown
    expected = {r.id: as_at(r, AT_AGO) for r in runs if as_at(r, AT_AGO) is not None}
    assert {row["id"]: row["status"] for row in response["rowData"]} == {i: s for i, (s, _) in expected.items()}
    assert count == f"{len(expected)} matching runs"
    assert parse_qs(pushed.lstrip("?"))["at"] == [iso_utc(at)]
    assert parse_qs(download.partition("?")[2])["at"] == [iso_utc(at)]
    selected = [{"id": runs[1].id}]
    assert page.open_run(selected, search).endswith(f"/runs/{runs[1].id}?at={quote(iso_utc(at), safe=':')}")
    live = page.load_rows({"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}, "all", "", "", [], [],
                          [], "", "UTC")
    assert {row["id"]: row["status"] for row in live[0]["rowData"]} == {r.id: r.status for r in runs}
    assert "at=" not in live[5]


def test_a_bad_at_on_the_page_shows_it_live(dash_app, use_engine, db):
    """A bad ``at`` in the address: the banner says why and that it shows now (as_of_banner), and the
    grid does show now: the live rows, no error, an export link without ``at``."""
    from dashapp.web.components.as_of_banner import show_as_of
    from dashapp.web.pages import history as page

    use_engine(db)
    runs = write_runs(db, utc_now().replace(microsecond=0))
    answer = page.load_rows({"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}, "all", "", "", [],
                            [], [], "", "UTC", None, None, "?at=2999-01-01")
    assert {row["id"]: row["status"] for row in answer[0]["rowData"]} == {r.id: r.status for r in runs}
    assert answer[3] is not True and "at=" not in answer[5]
    banner = show_as_of("?at=2999-01-01", "UTC")
    assert banner[0].startswith("Cannot show the app as of that moment: ") and banner[0].endswith("Showing now.")
