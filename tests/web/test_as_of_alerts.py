"""Alerts as of a past moment T: ``/api/alerts?at=``, the bell's counts and the alerts page, from
alerts the test wrote (fired, acknowledged and resolved on both sides of T); every expectation is
computed here from those rows: firing at T = fired by T and not resolved by T, acknowledged only
when acknowledged by T."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from dashapp.display import iso_utc
from dashapp.payloads import alerts as alert_payloads
from dashapp.storage.app_tables import alerts
from dashapp.web import ids
from queries._sql import app_db
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.callbacks import call

H = timedelta(hours=1)
BACK = 6 * H


@pytest.fixture
def client(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    return dash_app.server.test_client()


def write_alerts(db, now) -> dict[str, dict]:
    naive = now.replace(tzinfo=None)
    rows = {
        # fired before T, resolved after it: firing at T, acknowledged before T
        "late": dict(rule="late", subject="hubspot", severity="critical", summary="HubSpot late", state="resolved",
                     fired_at=naive - 8 * H, last_seen_at=naive - 3 * H, acknowledged_by="alice",
                     acknowledged_at=naive - 7 * H, resolved_by="bob", resolved_at=naive - 3 * H),
        # fired before T, acknowledged after T, still firing: firing at T, not yet acknowledged then
        "long": dict(rule="long_run", subject="callrail/calls", severity="warning", summary="CallRail long",
                     state="firing", fired_at=naive - 7 * H, last_seen_at=naive - H, acknowledged_by="carol",
                     acknowledged_at=naive - 2 * H),
        # resolved before T
        "old": dict(rule="late", subject="genius", severity="warning", summary="Genius late", state="resolved",
                    fired_at=naive - 30 * H, last_seen_at=naive - 20 * H, resolved_by="auto",
                    resolved_at=naive - 20 * H),
        # fired after T
        "new": dict(rule="failure_rate", subject="five9", severity="critical", summary="Five9 failing",
                    state="firing", fired_at=naive - 2 * H, last_seen_at=naive - H),
    }
    with app_db(db).begin() as conn:
        for values in rows.values():
            values["id"] = int(conn.execute(insert(alerts).values(**values)).inserted_primary_key[0])
    return rows


def firing_at(rows: dict[str, dict], at) -> dict[str, dict]:
    moment = at.replace(tzinfo=None)
    return {k: r for k, r in rows.items() if r["fired_at"] <= moment
            and not (r["state"] == "resolved" and (r.get("resolved_at") is None or r["resolved_at"] <= moment))}


def test_api_alerts_as_of_show_what_was_firing_then(client, db):
    now = utc_now()
    at = (now - BACK).replace(microsecond=0)
    rows = write_alerts(db, now)
    body = client.get(f"/api/alerts?at={iso_utc(at)}&range=all").get_json()
    assert body["at"] == iso_utc(at) and "as they are now" in body["assumed"]
    expected_firing = firing_at(rows, at)
    assert set(expected_firing) == {"late", "long"}  # the rows exercise each side of T
    shown = {a["id"]: a for a in body["alerts"]}
    assert set(shown) == {r["id"] for r in rows.values() if r["fired_at"] <= at.replace(tzinfo=None)}
    for key, row in rows.items():
        if row["id"] not in shown:
            continue
        alert = shown[row["id"]]
        assert alert["state"] == ("firing" if key in expected_firing else "resolved")
        acked = row.get("acknowledged_at") is not None and row["acknowledged_at"] <= at.replace(tzinfo=None)
        assert alert["acknowledged_by"] == (row["acknowledged_by"] if acked else None)
        assert (alert["resolved_at"] is None) == (key in expected_firing)
    severities: dict[str, int] = {}
    for row in expected_firing.values():
        severities[row["severity"]] = severities.get(row["severity"], 0) + 1
    assert body["firing"] == severities
    only_firing = client.get(f"/api/alerts?at={iso_utc(at)}&range=all&state=firing").get_json()
    assert {a["id"] for a in only_firing["alerts"]} == {r["id"] for r in expected_firing.values()}
    # live: what is firing now
    live = client.get("/api/alerts?range=all&state=firing").get_json()
    assert "at" not in live
    assert {a["id"] for a in live["alerts"]} == {r["id"] for r in rows.values() if r["state"] == "firing"}


def test_the_bell_as_of_counts_the_alerts_firing_then(client, dash_app, db):
    now = utc_now()
    at = (now - BACK).replace(microsecond=0)
    rows = write_alerts(db, now)
    expected = {"unacknowledged": {}, "acknowledged": {}}
    for row in firing_at(rows, at).values():
        acked = row.get("acknowledged_at") is not None and row["acknowledged_at"] <= at.replace(tzinfo=None)
        side = expected["acknowledged" if acked else "unacknowledged"]
        side[row["severity"]] = side.get(row["severity"], 0) + 1
    assert alert_payloads.firing_counts(db, at) == expected
    answer = call(client, dash_app, f"{ids.ALERTS_BELL_COUNT}.children",
                  {ids.ALERTS_BELL_INTERVAL: 1, ids.PAGE_LOCATION: f"?at={iso_utc(at)}"})
    assert answer[ids.ALERTS_BELL_COUNT]["children"] == str(sum(expected["unacknowledged"].values()))
    assert answer[ids.ALERTS_BELL]["title"].startswith(f"As of {iso_utc(at)}")


def test_the_alerts_page_as_of_lists_what_fired_then_without_buttons(client, dash_app, db):
    now = utc_now()
    at = (now - BACK).replace(microsecond=0)
    rows = write_alerts(db, now)
    answer = call(client, dash_app, f"{ids.ALERTS_ACTIVE}.children",
                  {ids.ALERTS_INTERVAL: 1, ids.PAGE_LOCATION: f"?at={iso_utc(at)}", ids.ALERTS_RANGE: "all"})
    firing = str(answer[ids.ALERTS_ACTIVE]["children"])
    for key, row in rows.items():
        assert (f"alert-{row['id']}'" in firing) == (key in firing_at(rows, at))
    assert "Acknowledge" not in firing and "Resolve" not in firing
    assert "assumed" in str(answer[ids.ALERTS_COUNTS]["children"])
    history = answer[ids.ALERTS_HISTORY_GRID]["rowData"]
    assert {r["id"] for r in history} == {r["id"] for r in rows.values() if r["fired_at"] <= at.replace(tzinfo=None)}
    assert answer[ids.ALERTS_REFRESH_STATE]["data"]["at"] == iso_utc(at)
