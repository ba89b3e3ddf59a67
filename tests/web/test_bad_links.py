"""A bad parameter is named, never dropped. The export and the page read the same
parser (dashapp.payloads.history.HistoryFilter.from_args); unknown /api/ paths are a JSON 404."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashapp.errors import BadParameter
from dashapp.payloads.history import HistoryFilter
from queries.clock import utc_now
from tests.support.rows import history_runs, insert_runs


@pytest.fixture
def client(dash_app, use_engine, db):
    use_engine(db)
    return dash_app.server.test_client()


@pytest.mark.parametrize(("query", "parameter", "named"), [
    ("status=bogus", "status", "'bogus'"), ("crm_source=nowhere", "crm_source", "'nowhere'"),
    ("sync_type=teleport", "sync_type", "'teleport'"), ("status=failed,bogus", "status", "'bogus'"),
])
def test_a_value_the_table_does_not_hold_is_a_400_on_the_export(client, db, query, parameter, named):
    insert_runs(db, history_runs(), utc_now())
    response = client.get(f"/export/sync-history.csv?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error.startswith(f"{parameter}:") and named in error


def test_known_values_an_alias_and_an_unknown_status_in_the_table_export(client, db):
    runs = insert_runs(db, history_runs(), utc_now())
    response = client.get("/export/sync-history.csv?status=weird,completed&crm_source=callrail&range=all")
    assert response.status_code == 200
    lines = response.get_data(as_text=True).strip().splitlines()
    assert len(lines) - 1 == sum(1 for r in runs if r.status == "weird" and r.crm_source == "callrail") > 0


def test_from_args_sets_each_bad_parameter_aside_and_keeps_the_rest():
    now = utc_now()
    known = {"crm_source": {"hubspot"}, "status": {"failed", "success"}, "sync_type": {"contacts"}}
    selection, ignored = HistoryFilter.from_args(
        {"status": ["failed,bogus"], "range": ["fortnight"], "crm_source": ["hubspot"], "sort": ["x:asc"],
         "start": ["yesterday"]}, now, known=known)
    assert [(p.name, str(p)) for p in ignored] == [
        ("start", "start: 'yesterday' is not an ISO 8601 date or time"),
        ("range", "range: 'fortnight' is not one of 24h, 7d, 30d, 90d, all"),
        ("sort", "sort: unknown column 'x'"),
        ("status", "status: 'bogus' is not a status in sync_history"),
    ]
    assert selection.statuses == ("failed",) and selection.crm_sources == ("hubspot",)
    assert selection.start == now - timedelta(days=7) and selection.range == "7d"
    with pytest.raises(BadParameter, match="^start:"):
        HistoryFilter.parse({"start": ["yesterday"], "status": ["bogus"]}, now, known=known)


@pytest.mark.parametrize(("query", "named"), [("crm_source=nowhere", "crm_source: 'nowhere'"),
                                              ("sync_type=contacts,teleport", "sync_type: 'teleport'")])
def test_performance_charts_name_a_value_the_table_does_not_hold(client, db, query, named):
    insert_runs(db, history_runs(), utc_now())
    response = client.get(f"/api/performance-charts?{query}")
    assert response.status_code == 400 and response.get_json()["error"].startswith(named)
    assert client.get("/api/performance-charts?crm_source=hubspot&sync_type=contacts").status_code == 200


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_a_json_404(client, method):
    response = getattr(client, method)("/api/nope/deeper?x=1")
    assert response.status_code == 404
    assert response.get_json() == {"error": "no such API route: /api/nope/deeper"}


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("delete", "/api/stats", "GET"), ("get", "/api/failed-operations/retry", "POST"),
])
def test_a_known_api_path_with_the_wrong_method_is_a_json_405(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response.get_json()["error"].endswith(f"is not allowed on {path}; use {allowed}")


def test_pages_still_answer_html(client):
    response = client.get("/history?status=bogus")
    assert response.status_code == 200 and response.mimetype == "text/html"


@pytest.mark.usefixtures("browser_ready")
def test_a_bad_link_shows_each_ignored_parameter_and_the_page_works_on(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    runs = insert_runs(pg_engine, history_runs(), utc_now())
    failed_this_week = [r for r in runs if r.status == "failed" and r.start_ago < timedelta(days=7)]
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/history?status=bogus&status=failed&range=bogus&colour=red")
    dash_duo.wait_for_text_to_equal("#history-count", f"{len(failed_this_week):,} matching runs", timeout=15)
    chips = [c.text for c in dash_duo.find_elements("#history-link-message .ignored-chip")]
    assert chips == ["ignored: colour: is not a parameter of this page",
                     "ignored: range: 'bogus' is not one of 24h, 7d, 30d, 90d, all",
                     "ignored: status: 'bogus' is not a status in sync_history"]
    dash_duo.find_elements("#history-link-message .ignored-chip .btn-close")[0].click()
    dash_duo.wait_for_no_elements("#history-link-message .ignored-chip:nth-child(3)", timeout=5)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/?days=3")
    dash_duo.wait_for_contains_text(".ignored-chips", "ignored: days: is not a parameter of this page", timeout=10)
    assert dash_duo.get_logs() == []
