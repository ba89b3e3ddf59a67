"""Health as of a past moment T (``?at=``): /api/system-health, the overview's strip and /health
show each service's status as the app recorded it at or before T (queries/health_changes.py, written
here through its recorder) and no figures; on PostgreSQL (both shapes) and SQLite. Each expected
status is read back here by its own SQL over the rows written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from dashapp.display import iso_utc
from dashapp.health import snapshot as health
from queries import health_changes
from queries._sql import app_db, app_table
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.callbacks import call

H = timedelta(hours=1)
ROUNDS = [  # (how long ago, {service: status}) as probe rounds saw them, oldest first
    (30 * H, {"database": "healthy", "redis": "healthy"}),
    (10 * H, {"database": "degraded", "redis": "healthy"}),
    (9 * H, {"database": "degraded", "redis": "unhealthy"}),
    (2 * H, {"database": "healthy", "redis": "healthy", "celery": "degraded"}),
]


@pytest.fixture
def recorded(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    now = utc_now()
    for ago, statuses in ROUNDS:
        health_changes.record_changes(db, now - ago, statuses, {"redis": "connection refused"})
    return db, now, dash_app.server.test_client()


def status_by_sql(db, at) -> dict[str, str]:
    """Each service's last recorded status at or before ``at``, by a query of this test's own."""
    with app_db(db).connect() as conn:
        table = app_table(conn, "health_changes")
        naive = at.replace(tzinfo=None)
        rows = conn.execute(text(f"SELECT service, to_status, at, id FROM {table} WHERE at <= :at"), {"at": naive})
        latest: dict[str, tuple] = {}
        for service, status, when, row_id in rows:
            if service not in latest or (when, row_id) > latest[service][1:]:
                latest[service] = (status, when, row_id)
    return {service: found[0] for service, found in latest.items()}


@pytest.mark.parametrize("back", [40 * H, 20 * H, 9.5 * H, 8 * H, 1 * H])
def test_the_route_gives_the_statuses_recorded_by_then(recorded, back):
    db, now, client = recorded
    at = (now - back).replace(microsecond=0)
    body = client.get(f"/api/system-health?at={iso_utc(at)}").get_json()
    expected = status_by_sql(db, at)
    assert {name: body[name]["status"] for name in health.RECORDED} == {
        name: expected.get(name, "unknown") for name in health.RECORDED}
    assert body["as_of"] == iso_utc(at) and body["checked_at"] is None and "statuses" in body["note"]
    assert all(set(body[name]) == {"status"} for name in health.RECORDED)  # no figures of now
    assert "app" not in body  # the host's figures are now's only


def test_live_is_the_probes_and_a_bad_at_is_a_400(recorded):
    _db, _now, client = recorded
    live = client.get("/api/system-health").get_json()
    assert "as_of" not in live and live["checked_at"] and "app" in live
    for bad in ("yesterday", iso_utc(utc_now() + H)):
        answer = client.get(f"/api/system-health?at={bad}")
        assert answer.status_code == 400 and answer.get_json()["parameter"] == "at"


def _texts(tree: object) -> list[str]:
    found: list[str] = []
    if isinstance(tree, dict):
        for value in tree.values():
            found += _texts(value)
    elif isinstance(tree, list):
        for value in tree:
            found += _texts(value)
    elif isinstance(tree, str):
        found.append(tree)
    return found


def test_the_strip_and_the_page_show_the_recorded_statuses(recorded, dash_app):
    db, now, client = recorded
    at = (now - 9.5 * H).replace(microsecond=0)
    expected = status_by_sql(db, at)
    words = {"healthy": "up", "degraded": "degraded", "unhealthy": "down"}
    strip = _texts(call(client, dash_app, "health-strip.children", {"_pages_location": f"?at={iso_utc(at)}"}))
    assert f"Redis: {words[expected['redis']]}" in strip and f"Database: {words[expected['database']]}" in strip
    assert "Celery: not recorded" in strip and any("Health as recorded" in t for t in strip)
    live = _texts(call(client, dash_app, "health-strip.children", {"_pages_location": ""}))
    assert not any("Health as recorded" in t for t in live)

    page = call(client, dash_app, "health-page-body.children", {"_pages_location": f"?at={iso_utc(at)}"})
    checked = page["health-page-checked"]["children"]
    assert checked.startswith("as recorded at ") and "statuses" in checked
    badges = {t for t in _texts(page) if t in ("healthy", "degraded", "unhealthy", "unknown")}
    assert {expected["redis"], expected["database"], "unknown"} <= badges
