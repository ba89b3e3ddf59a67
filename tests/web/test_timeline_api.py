"""``GET /api/timeline``: incidents from runs the test writes (status aliases, runs of no finished
class, an incident spanning the window's start) and alert events from alerts it writes, read back
through the route on PostgreSQL (both table shapes) and SQLite; the 400s; paging."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from dashapp.display import iso_utc
from dashapp.storage.app_tables import alerts
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


def write_runs(db, now) -> dict[str, Run]:
    runs = {
        # hubspot contacts: an incident from before the window resolved inside it, then one inside it
        "anchor": Run("hubspot", "contacts", "success", 30 * H, 30 * H - M),
        "f1": Run("hubspot", "contacts", "failed", 26 * H, 26 * H - M),
        "p2": Run("hubspot", "contacts", "partial", 20 * H, 20 * H - M),
        "s3": Run("hubspot", "contacts", "completed", 10 * H, 9 * H),  # an alias of success
        "f4": Run("hubspot", "contacts", "failed", 5 * H, 5 * H - M),
        "r5": Run("hubspot", "contacts", "in_progress", 4 * H, None),  # running: no part in incidents
        "f6": Run("hubspot", "contacts", "failed", 3 * H, 3 * H - M),
        "s7": Run("hubspot", "contacts", "success", 2 * H, 1 * H),
        # callrail calls: an incident still open
        "c1": Run("callrail", "calls", "success", 12 * H, 11 * H),
        "c2": Run("callrail", "calls", "partial", 8 * H, 8 * H - M),
        "c3": Run("callrail", "calls", "weird", 7 * H, 7 * H - M),  # an unknown status: no part either
        # genius: never a success, so no incident; arrivy: an incident over before the window
        "g1": Run("genius", "appointments", "failed", 40 * H, 40 * H - M),
        "g2": Run("genius", "appointments", "failed", 6 * H, 6 * H - M),
        "a1": Run("arrivy", "tasks", "success", 50 * H, 50 * H - M),
        "a2": Run("arrivy", "tasks", "failed", 45 * H, 45 * H - M),
        "a3": Run("arrivy", "tasks", "success", 40 * H, 39 * H),
    }
    insert_runs(db, list(runs.values()), now)
    return runs


def write_alerts(db, now) -> dict[str, int]:
    naive = now.replace(tzinfo=None)
    rows = {
        "late": dict(rule="late", subject="hubspot", severity="critical", summary="HubSpot late", state="resolved",
                     fired_at=naive - 6 * H, last_seen_at=naive - 3 * H, acknowledged_by="alice",
                     acknowledged_at=naive - 5.5 * H, resolved_by="bob", resolved_at=naive - 3 * H),
        "long": dict(rule="long_run", subject="callrail/calls", severity="warning", summary="CallRail calls long",
                     state="firing", fired_at=naive - 2.5 * H, last_seen_at=naive - 2.5 * H),
        "old": dict(rule="late", subject="genius", severity="warning", summary="Genius late", state="resolved",
                    fired_at=naive - 30 * H, last_seen_at=naive - 20 * H, resolved_by="auto",
                    resolved_at=naive - 20 * H),
    }
    with app_db(db).begin() as conn:
        return {k: int(conn.execute(insert(alerts).values(**v)).inserted_primary_key[0]) for k, v in rows.items()}


def expected_events(runs: dict[str, Run], ids: dict[str, int], now) -> list[tuple]:
    """(at, kind, crm_source, sync_type, run or alert id, extra) computed from the rows written."""
    def at(ago: timedelta) -> str:
        return iso_utc(now - ago)

    return [
        (at(1 * H), "incident_resolved", "hubspot", "contacts", runs["s7"].id, (4 * 3600.0, 2)),
        (at(2.5 * H), "alert_fired", "callrail", "calls", ids["long"], None),
        (at(3 * H), "alert_resolved", "hubspot", None, ids["late"], "bob"),
        (at(5 * H), "incident_started", "hubspot", "contacts", runs["f4"].id, None),
        (at(5.5 * H), "alert_acknowledged", "hubspot", None, ids["late"], "alice"),
        (at(6 * H), "alert_fired", "hubspot", None, ids["late"], None),
        (at(8 * H), "incident_started", "callrail", "calls", runs["c2"].id, None),
        (at(9 * H), "incident_resolved", "hubspot", "contacts", runs["s3"].id, (17 * 3600.0, 2)),
        (at(20 * H), "alert_resolved", "genius", None, ids["old"], "auto"),
    ]


def as_tuple(event: dict) -> tuple:
    extra = None
    if event["kind"] == "incident_resolved":
        extra = (round(event["incident_seconds"], 1), event["runs_lost"])
    elif "by" in event:
        extra = event["by"]
    return (event["at"], event["kind"], event["crm_source"], event["sync_type"],
            event.get("run_id", event.get("alert_id")), extra)


# the kinds these tests write rows for (the runs written would make late spans too: test_timeline_late.py)
KINDS = "kind=incident_started,incident_resolved,alert_fired,alert_acknowledged,alert_resolved"


def get(client, query: str) -> dict:
    if "kind=" not in query:
        query = f"{KINDS}&{query}"
    answer = client.get(f"/api/timeline?{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_incidents_and_alert_events_newest_first(client, db):
    now = utc_now()
    runs, ids = write_runs(db, now), write_alerts(db, now)
    expected = expected_events(runs, ids, now)
    body = get(client, "")
    assert [as_tuple(e) for e in body["events"]] == expected
    assert body["total"] == len(expected) and body["range"] == "24h"
    resolved = body["events"][0]
    assert resolved["summary"] == "HubSpot contacts recovered: 2 runs lost over 4 h"
    assert body["events"][3]["summary"] == f"HubSpot contacts failing from run #{runs['f4'].id}"
    assert body["events"][2]["summary"] == "critical alert late on hubspot resolved by bob"

    narrowed = get(client, "crm_source=hubspot&kind=incident_resolved,alert_acknowledged")["events"]
    assert [as_tuple(e) for e in narrowed] == [expected[0], expected[4], expected[7]]
    calls = get(client, "sync_type=calls")["events"]
    assert [as_tuple(e) for e in calls] == [expected[1], expected[6]]
    assert get(client, "kind=alert_fired&kind=incident_started")["total"] == 4


def test_paging(client, db):
    now = utc_now()
    expected = expected_events(write_runs(db, now), write_alerts(db, now), now)
    pages = [get(client, f"limit=4&offset={offset}") for offset in (0, 4, 8)]
    assert [[as_tuple(e) for e in page["events"]] for page in pages] == [expected[0:4], expected[4:8], expected[8:]]
    assert {page["total"] for page in pages} == {9}


def test_a_window_across_a_past_incident(client, db):
    """The window 27 h .. 15 h ago: the hubspot incident started in it; the arrivy one is all before it."""
    now = utc_now()
    runs = write_runs(db, now)
    body = get(client, f"start={iso_utc(now - 27 * H)}&end={iso_utc(now - 15 * H)}&kind=incident_started")
    assert [as_tuple(e) for e in body["events"]] == [
        (iso_utc(now - 26 * H), "incident_started", "hubspot", "contacts", runs["f1"].id, None)]
    assert body["range"] == "custom"


@pytest.mark.parametrize(("query", "named"), [
    ("kind=bogus", "kind"),
    ("kind=alert_fired,late_maybe", "kind"),
    ("range=1y", "range"),
    ("range=90d", "range"),
    ("range=all", "range"),
    ("start=2026-01-01T00:00:00Z&end=2026-02-10T00:00:00Z", "start"),
    ("limit=1001", "limit"),
    ("offset=-1", "offset"),
])
def test_a_bad_parameter_is_a_400_naming_it(client, query, named):
    answer = client.get(f"/api/timeline?{query}")
    assert answer.status_code == 400 and answer.get_json()["error"].startswith(f"{named}:"), answer.get_json()


def test_before_db_upgrade_there_are_no_alert_events_and_no_error(dash_app, use_engine, sqlite_db):
    """The app's tables do not exist yet: the incidents alone."""
    now = utc_now()
    runs = write_runs(sqlite_db, now)
    use_engine(sqlite_db)
    body = get(dash_app.server.test_client(), "")
    assert [(e["kind"], e["run_id"]) for e in body["events"]] == [
        ("incident_resolved", runs["s7"].id), ("incident_started", runs["f4"].id),
        ("incident_started", runs["c2"].id), ("incident_resolved", runs["s3"].id)]
    assert body["total"] == 4


@pytest.mark.parametrize("route", ["/api/timeline", "/api/timeline/lanes"])
def test_the_window_ends_at_the_moment_shown(client, db, route):
    """A named range as of ``at`` is the one before it; a custom end later than ``at`` (or now) is cut
    there; a start not before it, a bad ``at`` and too many CRMs are 400s naming the parameter."""
    from urllib.parse import quote

    now = utc_now().replace(microsecond=0)
    at = now - 6 * H
    body = client.get(f"{route}?range=24h&at={quote(iso_utc(at))}").get_json()
    assert (body["start"], body["end"]) == (iso_utc(at - 24 * H), iso_utc(at))
    later = client.get(f"{route}?start={quote(iso_utc(now - 2 * H))}&end={quote(iso_utc(now + 2 * H))}").get_json()
    assert later["end"] <= iso_utc(utc_now()) and later["start"] == iso_utc(now - 2 * H)
    for query, named in ((f"start={quote(iso_utc(now - H))}&at={quote(iso_utc(at))}", "start"),
                         (f"start={quote(iso_utc(now + H))}", "start"), ("at=garbage", "at"),
                         ("&".join(f"crm_source=c{i}" for i in range(201)), "crm_source")):
        answer = client.get(f"{route}?{query}")
        assert answer.status_code == 400 and answer.get_json()["parameter"] == named, (query, answer.get_json())
