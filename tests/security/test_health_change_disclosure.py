"""A health change on the timeline: its probe error (which can name a host, a port or a role) is
an operator's to read, as on /api/system-health; a viewer or anyone signed out reads only that the
service turned red, on /api/timeline and on the lanes' points."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from dashapp.storage.app_tables import health_changes
from queries._sql import app_db
from queries.clock import utc_now
from tests.security.conftest import sign_in

SECRET = "Error 111 connecting to redis-internal.corp:6380 as role monitor_ro"


def test_only_an_operator_reads_a_health_changes_probe_error(client, pg_engine):
    at = utc_now().replace(tzinfo=None) - timedelta(hours=1)
    with app_db(pg_engine).begin() as conn:
        conn.execute(insert(health_changes).values(at=at, service="redis", from_status="healthy",
                                                   to_status="unhealthy", detail=SECRET, previous_id=0))

    def seen() -> tuple[dict, dict]:
        event = client.get("/api/timeline?kind=health_changed").get_json()["events"][0]
        point = next(p for p in client.get("/api/timeline/lanes?kind=health_changed").get_json()["points"]
                     if p["kind"] == "health_changed")
        return event, point

    for who in (None, "bob"):  # signed out, then a viewer
        if who:
            sign_in(client, who)
        event, point = seen()
        assert event["summary"] == "Redis turned red (was green)" and event["detail"] is None, who
        assert SECRET not in str(event) and SECRET not in str(point) and "public_summary" not in event
    client.post("/auth/sign-out")
    sign_in(client, "alice")
    event, point = seen()
    assert event["detail"] == SECRET and event["summary"] == f"Redis turned red (was green): {SECRET}"
    assert point["summary"] == event["summary"]
