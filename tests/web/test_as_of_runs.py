"""``GET /api/runs/<id>?at=``: the run as it was at a past moment, from rows the test wrote: running
(no end, no error) when it ended later, its own calls and breaker transitions by then, an alert
resolved later firing then, the runs before it as they were; 404 for a run not started by then;
a live answer unchanged; a bad ``at`` a 400 naming it. PostgreSQL (both shapes) and SQLite."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from sqlalchemy import insert

from dashapp.display import iso_utc
from dashapp.storage.app_tables import alerts, api_calls, breaker_events
from queries._sql import app_db
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs

H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture
def client(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    return dash_app.server.test_client()


def naive(moment):
    return moment.replace(tzinfo=None)


def write(db, now):
    runs = insert_runs(db, [
        Run("hubspot", "contacts", "success", 30 * H, 29 * H),
        Run("hubspot", "contacts", "failed", 8 * H, 2 * H, processed=5, error="boom later"),  # the run shown
        Run("hubspot", "contacts", "success", 20 * H, 10 * H),
        Run("hubspot", "contacts", "success", 12 * H, 3 * H),  # a previous run still running at the moment
    ], now)
    shown = runs[1]
    with app_db(db).begin() as conn:
        for ago, code in ((7 * H, 200), (6 * H, 429), (3 * H, 500)):  # the last one after the moment
            conn.execute(insert(api_calls).values(called_at=naive(now - ago), crm_source="hubspot", endpoint="/x",
                                                  method="GET", status_code=code, duration_ms=10.0,
                                                  sync_run_id=shown.id))
        for ago, to_state in ((6 * H, "open"), (3 * H, "closed")):
            conn.execute(insert(breaker_events).values(occurred_at=naive(now - ago), breaker="hubspot-contacts",
                                                       crm_source="hubspot", from_state="x", to_state=to_state,
                                                       failure_count=2, sync_run_id=shown.id))
        conn.execute(insert(alerts).values(rule="failures", subject="hubspot", severity="critical", summary="s",
                                           state="resolved", fired_at=naive(now - 6 * H),
                                           last_seen_at=naive(now - 2 * H), resolved_at=naive(now - 2 * H)))
    return runs


def test_the_run_as_at_a_moment_before_its_end(client, db):
    now = utc_now().replace(microsecond=0)
    runs = write(db, now)
    at = now - 5 * H
    response = client.get(f"/api/runs/{runs[1].id}?at={quote(iso_utc(at))}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    run = body["run"]
    assert (run["status"], run["status_class"], run["end_time"], run["error_message"]) == \
        ("running", "running", None, None)
    assert run["duration_seconds"] == pytest.approx((runs[1].start_ago - 5 * H).total_seconds(), abs=1)
    assert body["api_calls_summary"]["calls"] == 2 and body["api_calls_summary"]["throttled"] == 1
    assert [e["to_state"] for e in body["breaker_events"]] == ["open"]
    assert [(a["state"], a["resolved_at"]) for a in body["alerts"]] == [("firing", None)]
    previous = {p["id"]: p for p in body["previous_runs"]}
    assert previous[runs[3].id]["status"] == "running" and previous[runs[3].id]["end_time"] is None
    assert previous[runs[0].id]["status"] == "success"
    assert body["as_of"] == iso_utc(at) and body["as_of_note"]
    # ended-by-then successes only give the expected duration: runs 0 (1 h) and 2 (10 h)
    assert run["expected_from_runs"] == 2
    assert body["failed_operation"] is None  # running then


def test_live_answer_is_unchanged(client, db):
    now = utc_now().replace(microsecond=0)
    runs = write(db, now)
    body = client.get(f"/api/runs/{runs[1].id}").get_json()
    assert (body["run"]["status"], body["run"]["error_message"]) == ("failed", "boom later")
    assert body["api_calls_summary"]["calls"] == 3
    assert "as_of" not in body


def test_a_run_not_started_by_then_is_a_404(client, db):
    now = utc_now().replace(microsecond=0)
    runs = write(db, now)
    response = client.get(f"/api/runs/{runs[1].id}?at={quote(iso_utc(now - 9 * H))}")
    assert response.status_code == 404
    assert response.get_json()["error"].startswith("id:")


@pytest.mark.parametrize("value", ["soon", "2999-01-01", "1970-01-01T00:00:00Z"])
def test_a_bad_at_is_a_400_naming_it(client, value):
    response = client.get(f"/api/runs/1?at={quote(value)}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("at:")


def _hrefs(component) -> list[str]:
    found = []
    if isinstance(component, list | tuple):
        for child in component:
            found += _hrefs(child)
        return found
    if getattr(component, "href", None):
        found.append(component.href)
    children = getattr(component, "children", None)
    return found + (_hrefs(children) if children is not None and not isinstance(children, str) else [])


def test_the_page_as_of_keeps_at_in_its_links_and_says_so(dash_app, use_engine, db):
    from dashapp.payloads import runs as run_payloads
    from dashapp.web import ids
    from dashapp.web.pages import runs as run_page

    empty_app_tables(db)
    use_engine(db)
    now = utc_now().replace(microsecond=0)
    runs = write(db, now)
    at = now - 5 * H
    page = run_payloads.run_page.__wrapped__(db, runs[1].id, at, as_of=True)
    drawn = run_page.render(page, "UTC")
    links = [h for h in _hrefs(drawn) if "/runs/" in h or "/history" in h or "/api/" in h]
    assert links and all(parse_qs(urlsplit(h).query).get("at") == [iso_utc(at)] for h in links)
    notes = [c for c in drawn if getattr(c, "id", None) == ids.RUN_AS_OF_NOTE]
    assert len(notes) == 1
    live = run_page.render(run_payloads.run_page.__wrapped__(db, runs[1].id, now), "UTC")
    assert not any("at=" in h for h in _hrefs(live))


def test_the_error_route_as_of_a_moment_before_the_end_has_no_message(client, db):
    now = utc_now().replace(microsecond=0)
    runs = write(db, now)
    before_end = client.get(f"/api/runs/{runs[1].id}/error?at={quote(iso_utc(now - 5 * H))}").get_json()
    assert (before_end["text"], before_end["message_length"]) == ("", 0)
    after_end = client.get(f"/api/runs/{runs[1].id}/error?at={quote(iso_utc(now - H))}").get_json()
    live = client.get(f"/api/runs/{runs[1].id}/error").get_json()
    assert after_end["text"] == live["text"] == runs[1].error
    response = client.get(f"/api/runs/{runs[1].id}/error?at=later")
    assert response.status_code == 400 and response.get_json()["error"].startswith("at:")
