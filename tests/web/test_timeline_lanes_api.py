"""``GET /api/timeline/lanes``: lanes, bars, spans and points from runs and alerts the test writes,
on PostgreSQL (both table shapes) and SQLite; a lane of many runs bucketed; the 400s."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashapp.display import from_iso, iso_utc
from dashapp.payloads.timeline_lanes import MAX_BARS
from queries.clock import utc_now
from queries.outcomes import status_class
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs
from tests.web.test_timeline_api import write_alerts, write_runs

H = timedelta(hours=1)
SECOND = timedelta(seconds=1)  # the overview links to the second after a start
M = timedelta(minutes=1)


@pytest.fixture
def client(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    return dash_app.server.test_client()


def get(client, query: str = "") -> dict:
    answer = client.get(f"/api/timeline/lanes?{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def in_window(runs: dict[str, Run], span: timedelta = 24 * H) -> list[Run]:
    return [r for r in runs.values() if r.start_ago <= span]


def test_a_lane_per_crm_problems_first_with_a_bar_per_run(client, db):
    now = utc_now()
    runs, alert_ids = write_runs(db, now), write_alerts(db, now)
    body = get(client)
    inside = in_window(runs)
    crms = {r.crm_source for r in inside}
    problems = {crm for crm in crms
                if any(status_class(r.status) in ("failed", "partial") for r in inside if r.crm_source == crm)}
    expected_order = sorted(problems) + sorted(crms - problems)
    assert [lane["crm_source"] for lane in body["lanes"]] == expected_order
    assert body["total_lanes"] == len(crms)
    for lane in body["lanes"]:
        mine = sorted((r for r in inside if r.crm_source == lane["crm_source"]), key=lambda r: -r.start_ago)
        assert [bar["run_id"] for bar in lane["bars"]] == [r.id for r in mine]
        assert [bar["status_class"] for bar in lane["bars"]] == [status_class(r.status) or "unknown" for r in mine]
        assert [bar["start"] for bar in lane["bars"]] == [iso_utc(r.start(now)) for r in mine]
        assert all(bar["href"] == f"/runs/{bar['run_id']}" for bar in lane["bars"])
        assert lane["runs"] == len(mine) and not lane["bucketed"]
    # hubspot contacts: an incident from before the window (resolved by s3), then f4 .. s7; callrail open
    incidents = [s for s in body["spans"] if s["kind"] == "incident"]  # late spans: tests/web/test_timeline_late.py
    spans = [(s["crm_source"], s["start"], s["end"], s["open_start"], s["open_end"], s["at"]) for s in incidents]
    assert spans == sorted([
        ("callrail", iso_utc(now - 8 * H), body["end"], False, True, iso_utc(now - 8 * H)),
        ("hubspot", body["start"], iso_utc(now - 9 * H), True, False, iso_utc(now - 26 * H)),
        ("hubspot", iso_utc(now - 5 * H), iso_utc(now - 1 * H), False, False, iso_utc(now - 5 * H)),
    ], key=lambda s: (s[0], s[1]))
    assert incidents[1]["href"] == f"/?at={iso_utc(now - 26 * H + SECOND)}"
    # the alerts are points on their CRM's lane, each leading to the alerts page
    points = sorted((p["kind"], p["lane"], p["href"]) for p in body["points"])
    assert points == sorted([("alert_fired", "callrail", "/alerts"), ("alert_resolved", "hubspot", "/alerts"),
                             ("alert_acknowledged", "hubspot", "/alerts"), ("alert_fired", "hubspot", "/alerts"),
                             ("alert_resolved", "genius", "/alerts")])
    assert alert_ids


def test_lanes_are_paged(client, db):
    now = utc_now()
    runs = write_runs(db, now)
    crms = sorted({r.crm_source for r in in_window(runs)})
    first, rest = get(client, "lane_limit=1"), get(client, "lane_offset=1")
    assert len(first["lanes"]) == 1 and first["total_lanes"] == len(crms)
    assert len(rest["lanes"]) == len(crms) - 1
    assert {lane["crm_source"] for lane in first["lanes"] + rest["lanes"]} == set(crms)


def test_a_lane_of_many_runs_is_bucketed_in_sql(client, db):
    """MAX_BARS + 30 runs of one CRM, each 10 min apart over the past 24 h: at most MAX_BARS bars,
    each holding the runs that started in it and coloured by its worst status."""
    now = utc_now().replace(microsecond=0)
    low, high = now - 24 * H, now
    count = MAX_BARS + 30
    step = (24 * H - 2 * M) / count
    runs = [Run("bulk", "contacts", "failed" if i % 7 == 0 else "success", 24 * H - M - i * step,
                24 * H - 2 * M - i * step) for i in range(count)]
    insert_runs(db, runs, now)
    lane = get(client, f"start={iso_utc(low)}&end={iso_utc(high)}")["lanes"][0]
    assert lane["crm_source"] == "bulk" and lane["bucketed"] and lane["runs"] == count
    assert 0 < len(lane["bars"]) <= MAX_BARS
    assert sum(bar["runs"] for bar in lane["bars"]) == count
    width = timedelta(seconds=lane["bucket_seconds"])
    assert width * MAX_BARS >= high - low
    for bar in lane["bars"]:
        began = from_iso(bar["start"])
        assert (began - low) % width == timedelta(0)
        inside = [r for r in runs if began <= r.start(now) < began + width]
        assert bar["runs"] == len(inside)
        assert bar["counts"]["failed"] == sum(r.status == "failed" for r in inside)
        assert bar["status_class"] == ("failed" if bar["counts"]["failed"] else "success")
        assert bar["href"].startswith("/history?start=")


@pytest.mark.parametrize(("query", "named"), [
    ("kind=bogus", "kind"),
    ("range=90d", "range"),
    ("start=2026-01-01T00:00:00Z&end=2026-02-10T00:00:00Z", "start"),
    ("lane_limit=41", "lane_limit"),
    ("lane_limit=0", "lane_limit"),
    ("lane_offset=-1", "lane_offset"),
    ("lane_offset=x", "lane_offset"),
])
def test_a_bad_parameter_is_a_400_naming_it(client, query, named):
    answer = client.get(f"/api/timeline/lanes?{query}")
    assert answer.status_code == 400 and answer.get_json()["error"].startswith(f"{named}:"), answer.get_json()


def test_late_spans_and_kinds_to_come_are_drawn():
    """Events of kinds the timeline will serve (late, breakers, services): late spans pair like
    incidents, a service's event gets its own lane, an unknown kind a neutral marker and words."""
    from dashapp.payloads import timeline_lanes as payloads
    from dashapp.web.components import swimlanes

    now = utc_now().replace(microsecond=0)
    low, high = now - 24 * H, now
    events = [  # newest first, as timeline_json gives them
        {"at": iso_utc(now - 1 * H), "kind": "late_ended", "crm_source": "hubspot", "sync_type": "deals",
         "summary": "on time again"},
        {"at": iso_utc(now - 2 * H), "kind": "breaker_opened", "crm_source": None, "service": "redis",
         "sync_type": None, "summary": "redis breaker opened"},
        {"at": iso_utc(now - 3 * H), "kind": "late_started", "crm_source": "hubspot", "sync_type": "deals",
         "summary": "late"},
        {"at": iso_utc(now - 4 * H), "kind": "late_ended", "crm_source": "genius", "sync_type": "appointments",
         "summary": "on time"},
        {"at": iso_utc(now - 5 * H), "kind": "brand_new_kind", "crm_source": "genius", "sync_type": None,
         "summary": "<b>new</b>"},
    ]
    spans = payloads.pair_spans(events, low, high)
    assert [(s["kind"], s["lane"], s["start"], s["end"], s["open_start"], s["href"]) for s in spans] == [
        ("late", "genius", iso_utc(low), iso_utc(now - 4 * H), True, f"/?at={iso_utc(low + SECOND)}"),
        ("late", "hubspot", iso_utc(now - 3 * H), iso_utc(now - 1 * H), False, f"/?at={iso_utc(now - 3 * H + SECOND)}"),
    ]
    assert payloads.lane_key(events[1]) == "redis"
    assert payloads.event_link(events[1], low, high).startswith("/history?start=")
    data = {"start": iso_utc(low), "end": iso_utc(high), "range": "custom", "lane_offset": 0,
            "lanes": [{"lane": lane, "name": lane, "crm_source": lane, "bars": []}
                      for lane in ("genius", "hubspot", "redis")],
            "spans": spans,
            "points": [{**e, "lane": payloads.lane_key(e), "href": "/history"} for e in events
                       if e["kind"] not in ("late_started", "late_ended")]}
    figure = swimlanes.swimlanes(data, "UTC")
    markers = {trace.name: trace for trace in figure.data if trace.meta == "point"}
    assert set(markers) == {"Breaker opened", "Brand new kind"}
    assert markers["Brand new kind"].marker.symbol == swimlanes.NEUTRAL[0]
    assert "&lt;b&gt;new&lt;/b&gt;" in markers["Brand new kind"].hovertext[0]
    assert [trace.meta for trace in figure.data if trace.meta == "late"] == ["late"]


def test_a_week_lane_is_bucketed_in_whole_hours_from_the_rollups(client, db, monkeypatch):
    """Over 7 days the buckets are whole hours from the hour the window starts in, and the hourly
    run rollups answer the hours they cover: each bar's counts equal the runs written here that
    started in it, also for a run that was running when its hour was rolled up (it closed since),
    a run written after the build, and the first bucket cut at the window's start."""
    from sqlalchemy import update

    from dashapp.storage import rollups
    from dashapp.storage.sync_tables import sync_history
    from queries import run_rollups
    from queries import timeline_lanes as lane_queries
    from queries._sql import bind_time

    now = utc_now().replace(microsecond=0)
    low, high = now - 7 * 24 * H - 17 * M, now
    count = MAX_BARS * 3
    step = (7 * 24 * H) / count
    runs = [Run("bulk", "contacts", ("failed", "partial", "success", "success")[i % 4], 7 * 24 * H - i * step,
                7 * 24 * H - i * step - M) for i in range(count)]
    runs.append(Run("bulk", "deals", "running", 50 * H, None))  # closes after the build
    written = insert_runs(db, runs, now)
    rollups.build(db, now)
    assert run_rollups.ready(db) is not None
    with db.begin() as conn:
        conn.execute(update(sync_history).where(sync_history.c.id == written[-1].id).values(
            status="failed", end_time=bind_time(conn, now - 49 * H)))
    written[-1].status = "failed"
    written += insert_runs(db, [Run("bulk", "calls", "partial", 30 * H + 5 * M, 30 * H)], now)  # after the build

    calls = []
    rolled = lane_queries._rolled_buckets
    monkeypatch.setattr(lane_queries, "_rolled_buckets", lambda *a: calls.append(a) or rolled(*a))
    lane = get(client, f"start={iso_utc(low)}&end={iso_utc(high)}")["lanes"][0]
    assert calls, "the rollups answered no hour"
    width = timedelta(seconds=lane["bucket_seconds"])
    assert lane["bucketed"] and width % H == timedelta(0) and width * MAX_BARS >= high - low
    assert sum(bar["runs"] for bar in lane["bars"]) == len(written)
    anchor = low.replace(minute=0, second=0)
    for bar in lane["bars"]:
        began = from_iso(bar["start"])
        cell = max(low, anchor + width * ((began - anchor) // width))
        assert began == cell
        inside = [r for r in written if cell <= r.start(now) < anchor + width * ((began - anchor) // width + 1)]
        assert bar["runs"] == len(inside)
        for kind in ("failed", "partial", "success", "running"):
            assert bar["counts"][kind] == sum(status_class(r.status) == kind for r in inside), (bar, kind)


def test_overlapping_runs_make_overlapping_incidents_each_whole(client, db):
    """A sync's runs may overlap: a long success started before a failure ends the first incident
    after a second one opened and closed. Each resolved incident names its start, so both spans are
    drawn whole (no span open from the window's start), each linking to its first failed run's end."""
    now = utc_now().replace(microsecond=0)
    runs = insert_runs(db, [
        Run("marketsharp", "contacts", "success", 6 * H, 6 * H - M),
        Run("marketsharp", "contacts", "failed", 5 * H, 5 * H - M),             # opens incident 1
        Run("marketsharp", "contacts", "success", 5 * H - 3 * M, 5 * H - 8 * M),  # ends it, 8 min on
        Run("marketsharp", "contacts", "failed", 5 * H - 4 * M, 5 * H - 5 * M),   # opens incident 2 meanwhile
        Run("marketsharp", "contacts", "success", 5 * H - 6 * M, 5 * H - 7 * M),  # ends incident 2 first
    ], now)
    spans = [s for s in get(client)["spans"] if s["kind"] == "incident"]
    assert sorted((s["start"], s["end"], s["open_start"], s["open_end"], s["href"]) for s in spans) == sorted([
        (iso_utc(runs[1].start(now)), iso_utc(runs[2].end(now)), False, False,
         f"/?at={iso_utc(runs[1].end(now) + SECOND)}"),
        (iso_utc(runs[3].start(now)), iso_utc(runs[4].end(now)), False, False,
         f"/?at={iso_utc(runs[3].end(now) + SECOND)}"),
    ])
