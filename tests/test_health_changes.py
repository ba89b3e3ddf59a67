"""The services' health changes (queries/health_changes.py, the health snapshot's hook, the
timeline's ``health_changed``): only changes are written, once however many writers see them, read
back as statuses at a moment and as timeline events; on PostgreSQL (both shapes) and SQLite."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from dashapp.config import load_settings
from dashapp.display import iso_utc
from dashapp.health import snapshot as health
from dashapp.storage.app_tables import health_changes as table
from queries import health_changes
from queries._sql import app_db
from queries.clock import utc_now
from tests.conftest import closed_port, empty_app_tables

H = timedelta(hours=1)
M = timedelta(minutes=1)
COLOURS = {"healthy": "green", "degraded": "amber", "unhealthy": "red"}


@pytest.fixture
def migrated(db):
    empty_app_tables(db)
    with health._pending_lock:  # rounds an earlier test's probes could not write to this database
        health._pending.clear()
    return db


def rows(db) -> list[dict]:
    with app_db(db).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]


# what each probe round saw, oldest first: (how long ago, {service: status})
ROUNDS = [
    (30 * H, {"database": "healthy", "redis": "healthy"}),
    (20 * H, {"database": "healthy", "redis": "healthy"}),
    (10 * H, {"database": "degraded", "redis": "healthy"}),
    (9 * H, {"database": "degraded", "redis": "unhealthy"}),
    (8 * H, {"database": "healthy", "redis": "unhealthy"}),
    (2 * H, {"database": "healthy", "redis": "healthy", "celery": "degraded"}),
]


def expected_changes(now) -> list[tuple]:
    """(at, service, from, to) for each round whose status differs from the service's previous one."""
    last: dict[str, str] = {}
    found = []
    for ago, statuses in ROUNDS:
        for service, status in sorted(statuses.items()):
            if last.get(service) != status:
                found.append((now - ago, service, last.get(service), status))
                last[service] = status
    return found


def write_rounds(db, now) -> None:
    for ago, statuses in ROUNDS:
        health_changes.record_changes(db, now - ago, statuses, {s: f"{s} is {v}" for s, v in statuses.items()})


def test_only_changes_are_written_and_read_back_as_of_a_moment(migrated):
    now = utc_now()
    write_rounds(migrated, now)
    expected = expected_changes(now)
    assert [(r["at"], r["service"], r["from_status"], r["to_status"]) for r in rows(migrated)] == [
        (at.replace(tzinfo=None), s, f, t) for at, s, f, t in expected]
    for moment in (now - 31 * H, now - 25 * H, now - 9.5 * H, now - 9 * H, now - 5 * H, now):
        as_of = {}
        for at, service, _, status in expected:
            if at <= moment:
                as_of[service] = status
        assert health_changes.status_at(migrated, moment) == as_of


def test_a_detail_is_bounded(migrated):
    now = utc_now()
    health_changes.record_changes(migrated, now, {"redis": "unhealthy"}, {"redis": "x" * 100_000})
    assert len(rows(migrated)[0]["detail"]) == health_changes.DETAIL_CHARS


def test_two_writers_seeing_the_same_change_write_it_once(migrated):
    """Writer A inserts the change and holds its transaction open; writer B, which read the same last
    row, inserts the same change and waits on A's unique key (PostgreSQL) or on A's lock (SQLite):
    once A commits, B writes nothing."""
    now = utc_now()
    health_changes.record_changes(migrated, now - H, {"redis": "healthy"})
    engine = app_db(migrated)
    written: dict[str, list[str]] = {}
    with engine.connect() as a:
        transaction = a.begin()
        written["a"] = health_changes.record_changes(a, now, {"redis": "unhealthy"})

        def writer_b() -> None:
            written["b"] = health_changes.record_changes(migrated, now, {"redis": "unhealthy"})

        b = threading.Thread(target=writer_b)
        b.start()
        b.join(timeout=0.5)  # B is waiting on A
        transaction.commit()
    b.join(timeout=30)
    assert written == {"a": ["redis"], "b": []}
    assert [(r["service"], r["from_status"], r["to_status"]) for r in rows(migrated)] == [
        ("redis", None, "healthy"), ("redis", "healthy", "unhealthy")]


def test_the_same_previous_row_twice_is_refused(migrated):
    now = utc_now().replace(tzinfo=None)
    values = dict(at=now, service="redis", from_status=None, to_status="healthy", previous_id=0)
    with app_db(migrated).begin() as conn:
        conn.execute(insert(table).values(**values))
    with pytest.raises(IntegrityError), app_db(migrated).begin() as conn:
        conn.execute(insert(table).values(**values))


def test_health_changed_on_the_timeline(dash_app, use_engine, migrated):
    now = utc_now()
    write_rounds(migrated, now)
    use_engine(migrated)
    client = dash_app.server.test_client()
    body = client.get("/api/timeline?kind=health_changed").get_json()
    written = [(at, n, (iso_utc(at), service, before, after))
               for n, (at, service, before, after) in enumerate(expected_changes(now)) if at >= now - 24 * H]
    expected = [e for _, _, e in sorted(written, reverse=True)]  # newest first, the later written first at a tie
    assert [(e["at"], e["service"], e["from_status"], e["to_status"]) for e in body["events"]] == expected
    assert body["total"] == len(expected)
    first = next(e for e in body["events"] if e["service"] == "celery")
    # signed out: the probe's error is an operator's (tests/security/test_health_change_disclosure.py)
    assert first["summary"] == "Celery turned amber" and first["colour"] == "amber" and first["detail"] is None
    redis_red = next(e for e in body["events"] if e["service"] == "redis" and e["to_status"] == "unhealthy")
    assert redis_red["summary"] == "Redis turned red (was green)"
    assert client.get("/api/timeline?kind=health_changed&crm_source=hubspot").get_json()["events"] == []


def test_the_health_snapshot_records_changes(migrated):
    """A probe round records each service's status; the next, the same statuses, writes nothing; a
    status recorded differently in between is changed back by the next round."""
    settings = load_settings({"HEALTH_CACHE_SECONDS": "0", "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/11"})
    snapshot = health.probe_all(settings, migrated)
    seen = {name: snapshot[name]["status"] for name in health.RECORDED
            if snapshot[name]["status"] in ("healthy", "degraded", "unhealthy")}
    assert seen["redis"] == "unhealthy" and "database" in seen
    assert {r["service"]: r["to_status"] for r in rows(migrated)} == seen
    health.probe_all(settings, migrated)
    assert len(rows(migrated)) == len(seen)
    health_changes.record_changes(migrated, utc_now(), {"redis": "healthy"})
    health.probe_all(settings, migrated)
    last = rows(migrated)[-1]
    assert (last["service"], last["from_status"], last["to_status"]) == ("redis", "healthy", "unhealthy")
    assert last["detail"]  # the probe's error


def test_an_outage_is_written_once_the_database_answers(migrated):
    """Rounds that find the database down write nothing (no page waits on it); the first round that
    finds it answering writes them, each at its own time, then its own."""
    now = utc_now()
    health.record_changes(migrated, {"database": {"status": "healthy"}, "redis": {"status": "healthy"}}, now - 3 * M)
    down = {"database": {"status": "unhealthy", "error": "connection refused"}, "redis": {"status": "healthy"}}
    health.record_changes(migrated, down, now - 2 * M)
    health.record_changes(migrated, down, now - 1.5 * M)  # the same statuses: one round kept
    assert len(rows(migrated)) == 2
    health.record_changes(migrated, {"database": {"status": "healthy"}, "redis": {"status": "degraded"}}, now)
    assert [(r["at"], r["service"], r["from_status"], r["to_status"], r["detail"]) for r in rows(migrated)[2:]] == [
        ((now - 2 * M).replace(tzinfo=None), "database", "healthy", "unhealthy", "connection refused"),
        (now.replace(tzinfo=None), "database", "unhealthy", "healthy", None),
        (now.replace(tzinfo=None), "redis", "healthy", "degraded", None)]


def test_before_db_upgrade_the_snapshot_still_answers(sqlite_db):
    settings = load_settings({"HEALTH_CACHE_SECONDS": "0"})
    snapshot = health.probe_all(settings, sqlite_db)
    assert snapshot["database"]["status"] in ("healthy", "degraded")
    assert health_changes.status_at(sqlite_db, utc_now()) == {}
