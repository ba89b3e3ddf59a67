"""``/api/api-stats``, ``/api/rate-limits`` and ``/api/circuit-breakers`` with ``at``: calls in the
window ending then, each rate limit as the last call before then reported it (its window counted
from then), each breaker in the state its last transition before then left it; computed here from
the rows the test wrote; live answers unchanged; a bad ``at`` a 400 naming it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import insert

from dashapp.display import iso_utc
from dashapp.storage.app_tables import api_calls, breaker_events
from queries._sql import app_db
from queries.clock import utc_now
from tests.conftest import empty_app_tables

M = timedelta(minutes=1)
AT_AGO = timedelta(hours=3)
SPAN = 90 * M  # a window under two hours: read from the raw calls

ROUTES = ("/api/api-stats", "/api/rate-limits", "/api/circuit-breakers")


@pytest.fixture
def client(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    return dash_app.server.test_client()


def naive(moment):
    return moment.replace(tzinfo=None)


# (minutes from the moment, status, remaining, reset minutes from the moment)
CALLS = [(-80, 200, 50, 10), (-30, 429, 0, 5), (-20, 500, None, None), (30, 200, 90, 40), (100, 200, 95, 120)]
# (minutes from the moment, from, to)
TRANSITIONS = [(-3000, "CLOSED", "OPEN"), (-2990, "OPEN", "CLOSED"), (-60, "CLOSED", "OPEN"),
               (10, "OPEN", "HALF_OPEN"), (11, "HALF_OPEN", "CLOSED")]


def write(db, at):
    with app_db(db).begin() as conn:
        for minutes, code, remaining, reset in CALLS:
            conn.execute(insert(api_calls).values(
                called_at=naive(at + minutes * M), crm_source="hubspot", endpoint="/contacts", method="GET",
                status_code=code, duration_ms=100.0, rate_limit_limit=100 if remaining is not None else None,
                rate_limit_remaining=remaining, rate_limit_reset_at=None if reset is None else naive(at + reset * M)))
        for minutes, before, after in TRANSITIONS:
            conn.execute(insert(breaker_events).values(
                occurred_at=naive(at + minutes * M), breaker="hubspot-contacts", crm_source="hubspot",
                from_state=before, to_state=after, failure_count=3, reason="r"))


def window_query(end, at=None) -> str:
    query = f"start={quote(iso_utc(end - SPAN))}&end={quote(iso_utc(end))}"
    return query + (f"&at={quote(iso_utc(at))}" if at else "")


def test_calls_limits_and_breakers_as_of(client, db):
    now = utc_now().replace(microsecond=0)
    at = now - AT_AGO
    write(db, at)
    # a custom end after the moment is cut to it
    stats = client.get(f"/api/api-stats?{window_query(now, at)}").get_json()
    assert stats["end"] == iso_utc(at) and stats["as_of"] == iso_utc(at)
    calls = [c for c in CALLS if now - SPAN <= at + c[0] * M < at]
    assert sum(e["calls"] for e in stats["endpoints"]) == len(calls)

    stats = client.get(f"/api/api-stats?{window_query(at, at)}").get_json()
    calls = [c for c in CALLS if -SPAN / M <= c[0] < 0]
    (endpoint,) = stats["endpoints"]
    assert (endpoint["calls"], endpoint["client_errors"], endpoint["server_errors"]) == (
        len(calls), sum(1 for c in calls if 400 <= c[1] < 500), sum(1 for c in calls if c[1] >= 500))

    limits = client.get(f"/api/rate-limits?{window_query(at, at)}").get_json()
    last = max((c for c in calls if c[2] is not None), key=lambda c: c[0])
    (limit,) = limits["limits"]
    assert (limit["remaining"], limit["reset_at"], limit["seen_at"]) == (
        last[2], iso_utc(at + last[3] * M), iso_utc(at + last[0] * M))
    assert limit["in_window"] is (last[3] > 0)  # counted from the moment, not from now

    breakers = client.get(f"/api/circuit-breakers?{window_query(at, at)}").get_json()
    (breaker,) = breakers["breakers"]
    before = [t for t in TRANSITIONS if t[0] < 0]
    assert breaker["state"] == before[-1][2]
    assert breaker["last_transition"] == iso_utc(at + before[-1][0] * M)


def test_live_answers_are_unchanged(client, db):
    now = utc_now().replace(microsecond=0)
    at = now - AT_AGO
    write(db, at)
    breakers = client.get("/api/circuit-breakers?range=7d").get_json()
    assert breakers["breakers"][0]["state"] == TRANSITIONS[-1][2]
    assert "as_of" not in breakers
    limits = client.get(f"/api/rate-limits?start={quote(iso_utc(now - SPAN))}").get_json()
    newest = max((c for c in CALLS if c[2] is not None and at + c[0] * M >= now - SPAN), key=lambda c: c[0])
    assert limits["limits"][0]["remaining"] == newest[2]


@pytest.mark.parametrize("route", ROUTES)
def test_a_bad_at_is_a_400_naming_it(client, route):
    response = client.get(f"{route}?at=2999-01-01T00:00:00Z")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("at:")
