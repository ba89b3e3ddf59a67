"""The /timeline page: its layout (ids, controls read from the URL, bad parameters as chips), its
refresh callback's outputs from runs and alerts the test wrote (a lane per CRM with a bar per run,
the incident spans and their links, the event list's links), on PostgreSQL (both table shapes) and
SQLite; clicks and the URL state; hostile names escaped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from dash import no_update

from dashapp.display import crm_name, from_iso, iso_utc
from dashapp.web import ids, viewer
from queries import timeline as timeline_queries
from queries.clock import utc_now
from queries.outcomes import status_class
from tests.conftest import closed_port, empty_app_tables
from tests.support.rows import Run, insert_runs
from tests.web.test_timeline_api import write_alerts, write_runs

H = timedelta(hours=1)
SECOND = timedelta(seconds=1)  # the overview links to the second after an incident became known
M = timedelta(minutes=1)


def _components(node: object) -> Iterator[object]:
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            yield from _components(child)


def _by_id(layout: object, component_id: str) -> object:
    return next(c for c in _components(layout) if getattr(c, "id", None) == component_id)


def _chips(layout: object) -> list[str]:
    return [c.children for c in _components(layout) if "ignored-chip " in (getattr(c, "className", None) or "")]


@pytest.fixture
def page(dash_app, use_engine, db):
    from dashapp.web.pages import timeline

    empty_app_tables(db)
    use_engine(db)
    return timeline


def refresh(timeline, chosen_range="24h", crms=None, sync_types=None, kinds=None, lane_page=1, event_page=1,
            mode="light", zone="UTC", custom=None, previous=None) -> tuple:
    return timeline.refresh_timeline(None, None, chosen_range, crms or [], sync_types or [], kinds or [],
                                     lane_page, event_page, mode, zone, custom, previous)


def test_the_layout_reads_its_controls_from_the_url(dash_app, use_engine, sqlite_db):
    from dashapp.web.pages import timeline

    insert_runs(sqlite_db, [Run("hubspot", "contacts", "success", 2 * H, H)], utc_now())
    use_engine(sqlite_db)
    layout = timeline.layout(range="7d", crm_source="hubspot", kind=["alert_fired,incident_started"], bogus="1")
    for component_id in (ids.TIMELINE_DAY_SUMMARY, ids.TIMELINE_LANES_CHART, ids.TIMELINE_LANE_PAGER,
                         ids.TIMELINE_EVENTS, ids.TIMELINE_EVENT_PAGER, ids.TIMELINE_NAVIGATE):
        assert _by_id(layout, component_id) is not None
    assert _by_id(layout, ids.TIMELINE_DAY_SUMMARY).children is None  # the digest fills it
    assert _by_id(layout, ids.TIMELINE_RANGE).value == "7d"
    assert [o["value"] for o in _by_id(layout, ids.TIMELINE_RANGE).options] == ["24h", "7d", "30d", "custom"]
    assert _by_id(layout, ids.TIMELINE_CUSTOM_RANGE).className == "d-none"
    assert _by_id(layout, ids.TIMELINE_CRM).value == ["hubspot"]
    assert _by_id(layout, ids.TIMELINE_KIND).value == ["alert_fired", "incident_started"]
    assert _chips(layout) == ["ignored: bogus: is not a parameter of this page"]

    too_long = timeline.layout(range="90d", kind="nonsense")
    assert _by_id(too_long, ids.TIMELINE_RANGE).value == "24h"
    assert _by_id(too_long, ids.TIMELINE_KIND).value == []
    assert sorted(chip.split(":")[1].strip() for chip in _chips(too_long)) == ["kind", "range"]

    start, end = "2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z"
    custom = timeline.layout(start=start, end=end)
    assert _by_id(custom, ids.TIMELINE_RANGE).value == "custom"
    assert _by_id(custom, ids.TIMELINE_CUSTOM).data == {"start": [start], "end": [end]}
    assert _by_id(custom, ids.TIMELINE_CUSTOM_RANGE).className == "d-flex flex-wrap gap-2"
    zone = ZoneInfo(viewer.zone())
    assert _by_id(custom, ids.TIMELINE_START).value == from_iso(start).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    assert _by_id(custom, ids.TIMELINE_END).value == from_iso(end).astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def test_a_custom_window_typed_in_the_viewers_zone(page):
    assert page.custom_inputs("2026-11-01T09:00", "2026-11-02T09:30", "Europe/Paris") == {
        "start": ["2026-11-01T08:00:00Z"], "end": ["2026-11-02T08:30:00Z"]}
    assert page.custom_inputs("2026-11-01T09:00", "2026-11-02T09:30", "Nowhere/Else") == {
        "start": ["2026-11-01T09:00:00Z"], "end": ["2026-11-02T09:30:00Z"]}
    for start, end in (("2026-11-01T09:00", ""), ("yesterday", "2026-11-02T09:30"), (None, None)):
        assert page.custom_inputs(start, end, "UTC") is no_update
    now = utc_now()
    window = page.custom_inputs((now - 2 * H).strftime("%Y-%m-%dT%H:%M"), now.strftime("%Y-%m-%dT%H:%M"), "UTC")
    f = page.controls_filter("custom", window, [], [], [], now)
    assert (iso_utc(f.start), iso_utc(f.end)) == (window["start"][0], window["end"][0])


def _traces(figure, meta: str) -> list:
    return [trace for trace in figure.data if trace.meta == meta]


def test_the_refresh_draws_a_lane_per_crm_its_runs_and_the_incident_spans(page, db):
    now = utc_now()
    runs, alert_ids = write_runs(db, now), write_alerts(db, now)
    written = list(timeline_queries.RUN_KINDS + timeline_queries.ALERT_KINDS)  # the kinds of the rows written
    figure, note, lane_pages, lane_count, events_note, events, event_pages, event_count, summary, state = refresh(
        page, kinds=written)
    assert state["ok"]
    inside = [r for r in runs.values() if r.start_ago <= 24 * H]
    crms = {r.crm_source for r in inside}
    problems = {r.crm_source for r in inside if status_class(r.status) in ("failed", "partial")}
    order = sorted(problems) + sorted(crms - problems)
    lane_names = [crm_name(crm) for crm in order]
    assert list(figure.layout.yaxis.ticktext) == lane_names
    assert lane_pages == 1 and lane_count.startswith(f"Lanes 1–{len(order)} of {len(order)}")

    bars = [(int(y), link[0]) for trace in _traces(figure, "run") for y, link in zip(trace.y, trace.customdata,
                                                                                      strict=True)]
    for index, crm in enumerate(order):
        mine = sorted(r.id for r in inside if r.crm_source == crm)
        assert sorted(link for y, link in bars if y == index) == sorted(f"/runs/{i}" for i in mine)
    by_class = {trace.name: len(trace.y) for trace in _traces(figure, "run")}
    for name in by_class:
        assert by_class[name] == sum(f"Run {status_class(r.status) or 'unknown'}" == name for r in inside)

    spans = _traces(figure, "incident")[0]
    links = sorted((int(y), link[0]) for y, link in zip(spans.y, spans.customdata, strict=True))
    hubspot, callrail = order.index("hubspot"), order.index("callrail")
    assert links == sorted([
        (hubspot, f"/?at={iso_utc(now - 26 * H + SECOND)}"),  # began before the window: the link is its real start
        (hubspot, f"/?at={iso_utc(runs['f4'].end(now) + SECOND)}"),  # the second after its first failed run ended
        (callrail, f"/?at={iso_utc(runs['c2'].end(now) + SECOND)}"),  # still open
    ])
    incidents = len(links)
    points = [link[0] for trace in _traces(figure, "point") for link in trace.customdata]
    assert sorted(points) == ["/alerts"] * 5 and alert_ids

    links = [c.href for c in _components(events) if getattr(c, "className", "") == "timeline-event-link text-nowrap"]
    assert links[:4] == [f"/runs/{runs['s7'].id}", "/alerts", "/alerts", f"/runs/{runs['f4'].id}"]
    assert event_pages == 1 and event_count == "Events 1–9 of 9, newest first"
    assert note == [] and events_note is None

    # the day's summary: the morning digest of the 24 hours the window ends with
    texts = []
    for node in _components(summary):
        children = getattr(node, "children", None)
        texts += [children] if isinstance(children, str) else [c for c in children or () if isinstance(c, str)]
    ended = [r for r in runs.values() if r.end_ago is not None and r.end_ago <= 24 * H
             and status_class(r.status) in ("success", "failed", "partial")]
    assert f"{len(ended):,}" in texts and f"Incidents ({incidents})" in texts


def test_the_kind_filter_keeps_only_those_events_and_spans_whole(page, db):
    now = utc_now()
    runs = write_runs(db, now)
    write_alerts(db, now)
    figure, *_rest, events, _pages, count, _summary, _state = refresh(page, kinds=["incident_started"])
    assert not _traces(figure, "point")
    spans = _traces(figure, "incident")[0]
    assert sorted(link[0] for link in spans.customdata) == sorted(  # each span whole: its end is read too
        [f"/?at={iso_utc(moment + SECOND)}" for moment in (now - 26 * H, runs["f4"].end(now), runs["c2"].end(now))])
    ends = sorted(s["end"] for s in page.lane_payloads.lanes_json(
        db, page.lane_payloads.lane_filter({"kind": ["incident_started"]}, now), now)["spans"])
    assert ends[:2] == sorted([iso_utc(now - 9 * H), iso_utc(now - 1 * H)])
    links = [c.href for c in _components(events) if getattr(c, "className", "") == "timeline-event-link text-nowrap"]
    assert links == [f"/runs/{runs['f4'].id}", f"/runs/{runs['c2'].id}"]
    assert count == "Events 1–2 of 2, newest first"


def test_an_empty_window_says_so(page, db):
    figure, _note, pages, count, _events_note, events, *_rest = refresh(page)
    assert "No runs or events" in figure.layout.annotations[0].text
    assert pages == 1 and count == ""
    assert events.children == "No events in this window for this selection."


def test_a_database_that_does_not_answer_is_said_per_panel(dash_app, use_engine):
    from dashapp.storage.db import postgres_engine
    from dashapp.web.pages import timeline

    engine = postgres_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/nothing", "orchestration")
    use_engine(engine)
    try:
        figure, lanes_note, _pages, _count, events_note, events, *_rest, state = refresh(timeline)
    finally:
        engine.dispose()
    assert figure is no_update and events is no_update
    assert lanes_note.children.startswith("The swimlanes did not load: ")
    assert events_note.children.startswith("The event list did not load: ")
    assert state["ok"] is False and state["loaded"] == []


def test_hostile_names_are_escaped(page, db):
    now = utc_now()
    evil = '<a href="https://x">x</a>'
    insert_runs(db, [Run(evil, "c<b>", "failed", 2 * H, H)], now)
    figure, *_rest = refresh(page)
    assert list(figure.layout.yaxis.ticktext) == ["&lt;a href=\"https://x\"&gt;x&lt;/a&gt;"]
    hover = _traces(figure, "run")[0].hovertext[0]
    assert "<a href" not in hover and "&lt;a href" in hover and "c&lt;b&gt;" in hover


def test_a_click_opens_the_app_link_it_carries(page):
    assert page.open_link({"points": [{"customdata": ["/runs/12"]}]}) == "/runs/12"
    assert page.open_link({"points": [{"customdata": ["/?at=2026-12-04T03:12:00Z"]}]}) == "/?at=2026-12-04T03:12:00Z"
    for forged in ("https://evil.example/", "//evil.example/", None, 5):
        assert page.open_link({"points": [{"customdata": [forged]}]}) is no_update
    assert page.open_link(None) is no_update


def test_the_url_follows_the_controls(page):
    assert page.url_search("7d", ["hubspot"], [], ["alert_fired", "incident_started"], None) == (
        "?range=7d&crm_source=hubspot&kind=alert_fired%2Cincident_started")
    assert page.url_search("24h", [], ["calls"], [], None) == "?sync_type=calls"
    custom = {"start": ["2026-11-01T00:00:00Z"], "end": ["2026-11-02T00:00:00Z"]}
    assert page.url_search("custom", [], [], [], custom) == (
        "?start=2026-11-01T00%3A00%3A00Z&end=2026-11-02T00%3A00%3A00Z")
