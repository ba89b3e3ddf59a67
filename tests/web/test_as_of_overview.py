"""The overview as of a past moment T (``?at=``): /api/stats, /api/crm-status and /api/recent-syncs
read back through the routes on PostgreSQL (both table shapes) and SQLite, every number computed
here, in Python, from the rows the test wrote: counts over the 24 hours before T of runs ended by
T, active at T (a run that ended after T was running), each sync's latest run at T and its state
then; bad ``at`` values are 400s naming it; the page says "as of" and shows T's numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashapp.display import iso_utc
from dashapp.web import ids
from dashapp.web.components.as_of_banner import show_as_of, viewed_at
from dashapp.web.components.time_control import chosen_moment, local_value
from queries.as_of import LONG_RUN
from queries.clock import utc_now
from queries.outcomes import status_class
from queries.overview import WINDOW
from tests.properties.warehouse_values import Moment, insert, row
from tests.support.callbacks import call
from tests.support.rows import Run, insert_runs, insert_schedules

H = timedelta(hours=1)
M = timedelta(minutes=1)
BACK = 10 * H  # T = now - BACK


@pytest.fixture
def client(dash_app, use_engine, db):
    use_engine(db)
    return dash_app.server.test_client()


def write_runs(db, now: datetime) -> dict[str, Run]:
    runs = {
        "a": Run("hubspot", "contacts", "success", 14 * H, 13 * H, 10, 4, 6, 0),
        "b": Run("hubspot", "contacts", "failed", 12 * H, 11.5 * H, 3, 0, 0, 3, error="HTTPError: 500"),
        # ended after T: running at T (hubspot contacts' latest run then, its CRM running)
        "c": Run("hubspot", "contacts", "success", 10.5 * H, 9 * H, 50, 20, 30, 0),
        "d": Run("hubspot", "contacts", "success", 2 * H, 1 * H, 7, 7, 0, 0),
        "e": Run("callrail", "calls", "partial", 20 * H, 19 * H, 5, 1, 1, 3, error="3 rejected"),
        "f": Run("callrail", "calls", "failed", 12 * H, None, error="worker lost"),  # died: by its start
        "g": Run("genius", "appointments", "in_progress", 11 * H, None),  # running then and now
        "h": Run("genius", "appointments", "running", 5 * H, None),  # started after T
        "i": Run("arrivy", "tasks", "success", 40 * H, 35 * H),  # ended before T's 24 hours
        "j": Run("arrivy", "tasks", "completed", 34 * H, 33 * H),  # ended inside them
        "k": Run("arrivy", "tasks", "success", 1 * H, 0.9 * H),
        # started long before T and ended after it: running then, however long ago it started
        "long": Run("five9", "call_logs", "success", BACK + LONG_RUN + 50 * H, 5 * H),
        "late_start": Run("five9", "call_logs", "failed", 9 * H, 8 * H),
    }
    return {k: r for k, r in zip(runs, insert_runs(db, list(runs.values()), now), strict=True)}


def expected_counts(runs: dict[str, Run], now: datetime, at: datetime) -> dict:
    """The definitions of queries/overview.py as of ``at``, applied here to the rows written."""
    since = at - WINDOW

    def ended(kind: str) -> int:
        return sum(1 for r in runs.values() if status_class(r.status) == kind and (
            (r.end(now) is not None and since <= r.end(now) <= at)
            or (kind == "failed" and r.end(now) is None and since <= r.start(now) <= at)))

    def active(r: Run) -> bool:
        start, end = r.start(now), r.end(now)
        if start > at:
            return False
        if end is not None and end > at:
            return True
        return status_class(r.status) == "running"

    completed, failed, partial = ended("success"), ended("failed"), ended("partial")
    return {"active_syncs": sum(1 for r in runs.values() if active(r)), "completed_today": completed,
            "failed_today": failed, "partial_today": partial,
            "success_rate": round(completed * 100 / (completed + failed), 2) if completed + failed else None,
            "partial_rate": round(partial * 100 / (completed + failed + partial), 2)
            if completed + failed + partial else 0.0}


def latest_at(runs: dict[str, Run], now: datetime, at: datetime) -> dict[tuple[str, str], Run]:
    found: dict[tuple[str, str], Run] = {}
    for run in runs.values():
        if run.start(now) <= at:
            key = (run.crm_source, run.sync_type)
            if key not in found or run.start(now) > found[key].start(now):
                found[key] = run
    return found


def test_stats_as_of_count_the_day_before_it_and_what_was_running(client, db):
    now = utc_now()
    at = (now - BACK).replace(microsecond=0)
    runs = write_runs(db, now)
    body = client.get(f"/api/stats?at={iso_utc(at)}").get_json()
    expected = expected_counts(runs, now, at)
    assert body["overview"] == expected
    assert body["at"] == iso_utc(at)
    # the rows exercise each rule: c ended after T (active), g still runs, the long run started days before T
    assert expected["active_syncs"] == 3 and expected["failed_today"] == 2 and expected["completed_today"] == 2
    live = client.get("/api/stats").get_json()
    assert "at" not in live
    assert live["overview"]["active_syncs"] == sum(1 for r in runs.values() if status_class(r.status) == "running")


def test_crm_status_as_of_shows_each_sync_as_it_was(client, db):
    now = utc_now()
    at = (now - BACK).replace(microsecond=0)
    runs = write_runs(db, now)
    insert_schedules(db, [{"crm_source": "arrivy", "model_name": "tasks", "recurrence_type": "interval",
                           "every": 2, "period": "hours"}], now)
    body = client.get(f"/api/crm-status?at={iso_utc(at)}&limit=1000").get_json()
    assert body["at"] == iso_utc(at) and "schedules as they are now" in body["assumed"]
    types = {(c["crm_source"], t["sync_type"]): (c, t) for c in body["crms"] for t in c["sync_types"]}
    latest = latest_at(runs, now, at)
    assert set(types) == set(latest)  # no sync whose runs all started after T
    for pair, run in latest.items():
        crm, sync = types[pair]
        assert sync["id"] == run.id
        running_then = (run.end(now) is not None and run.end(now) > at) or status_class(run.status) == "running"
        assert (sync["status_class"] == "running") == running_then, pair
        if running_then:
            assert sync["state"] == "running" and crm["state"] == "running"
            assert sync["duration_seconds"] == pytest.approx((at - run.start(now)).total_seconds(), abs=1)
    # hubspot's run c ended after T with success: at T it was running, with no end and no error
    assert types[("hubspot", "contacts")][1]["status"] == "running"
    # callrail's latest then (and now) failed: failing
    assert types[("callrail", "calls")][1]["state"] == "failing"
    # arrivy runs every 2 hours: at T its latest run was j, 24 hours before: late, due 2 hours after j
    arrivy = types[("arrivy", "tasks")][1]
    assert arrivy["state"] == "late"
    assert arrivy["expected_at"] == iso_utc(runs["j"].start(now) + 2 * H)
    # live: arrivy's run k 1 hour ago keeps it on time, and hubspot's latest is d, a success
    live = {(c["crm_source"], t["sync_type"]): t for c in client.get("/api/crm-status?limit=1000").get_json()["crms"]
            for t in c["sync_types"]}
    assert live[("arrivy", "tasks")]["state"] == "on_time"
    assert live[("hubspot", "contacts")]["id"] == runs["d"].id
    assert live[("hubspot", "contacts")]["status"] == "success"


def test_recent_syncs_as_of_are_those_started_by_then(client, db):
    now = utc_now()
    at = (now - BACK).replace(microsecond=0)
    runs = write_runs(db, now)
    body = client.get(f"/api/recent-syncs?at={iso_utc(at)}&limit=100").get_json()
    started = sorted((r for r in runs.values() if r.start(now) <= at), key=lambda r: (r.start(now), r.id),
                     reverse=True)
    assert [s["id"] for s in body["syncs"]] == [r.id for r in started]
    by_id = {s["id"]: s for s in body["syncs"]}
    for run in started:
        ended_later = run.end(now) is not None and run.end(now) > at
        assert (by_id[run.id]["status"] == "running") == (ended_later or run.status == "running")
    assert body["at"] == iso_utc(at)


@pytest.mark.parametrize(("value", "why"), [("yesterday", "ISO 8601"), ("1999-12-31T00:00:00Z", "2000"),
                                            ("2999-01-01T00:00:00Z", "future")])
@pytest.mark.parametrize("route", ["/api/stats", "/api/crm-status", "/api/recent-syncs", "/api/alerts"])
def test_a_bad_at_is_a_400_naming_it(client, route, value, why):
    answer = client.get(f"{route}?at={value}")
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error.startswith("at: ") and why.lower() in error.lower() and answer.get_json()["parameter"] == "at"


def _stat_values(tree: object, found: dict | None = None) -> dict[str, object]:
    """Each card's value in a callback's JSON answer, by its id (``stat-active``...)."""
    found = {} if found is None else found
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if isinstance(props, dict) and str(props.get("id", "")).startswith("stat-") and "children" in props:
            found[props["id"]] = props["children"]
        for value in (props.values() if isinstance(props, dict) else tree.values()):
            _stat_values(value, found)
    elif isinstance(tree, list):
        for item in tree:
            _stat_values(item, found)
    return found


def test_the_overview_page_as_of_says_so_and_shows_its_numbers(client, dash_app, db):
    now = utc_now()
    at = (now - BACK).replace(microsecond=0)
    runs = write_runs(db, now)
    expected = expected_counts(runs, now, at)
    answer = call(client, dash_app, f"{ids.OVERVIEW_CARDS}.children",
                  {ids.OVERVIEW_INTERVAL: 1, ids.PAGE_LOCATION: f"?at={iso_utc(at)}"})
    shown = _stat_values(answer[ids.OVERVIEW_CARDS]["children"])
    assert shown["stat-active"] == f"{expected['active_syncs']:,}"
    assert shown["stat-failed"] == f"{expected['failed_today']:,}"
    assert shown["stat-completed"] == f"{expected['completed_today']:,}"
    state = answer[ids.OVERVIEW_REFRESH_STATE]["data"]
    assert state["ok"] and state["at"] == iso_utc(at)
    assert state["updated_at"] != iso_utc(at)  # updated now, showing T
    # the CRM panel after that refresh: T's CRMs, and a note of what it assumed
    crms = call(client, dash_app, f"{ids.CRM_STATUS_DATA}.data", {ids.OVERVIEW_REFRESH_STATE: state,
                                                                  ids.CRM_STATUS_STATE: "all"})
    rows = {(r.get("crm_source"), r.get("sync_type")): r for r in crms[ids.CRM_STATUS_DATA]["data"]}
    hubspot = next(r for (crm, _), r in rows.items() if crm == "hubspot")
    assert hubspot["state"] == "running"
    assert "assumed" in str(crms[ids.CRM_STATUS_NOTE]["children"])
    # the banner under the navbar
    words, is_open, colour, value, zone, button, button_colour = show_as_of(f"?at={iso_utc(at)}", "UTC")
    assert is_open and colour == "warning" and button_colour == "warning"
    assert button == f"As of {at:%m-%d %H:%M} UTC"
    assert words.startswith(f"As of {at:%Y-%m-%d %H:%M} UTC (10 h ago")
    assert value == f"{at:%Y-%m-%dT%H:%M}" and zone == "UTC"
    assert show_as_of("", "UTC")[1] is False and show_as_of("", "UTC")[5] == "Live"  # live: no banner
    bad = show_as_of("?at=2999-01-01T00:00:00Z", "UTC")
    assert bad[1] and bad[2] == "danger" and "future" in bad[0]


def test_the_time_control_reads_the_viewers_zone():
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    # 03:12 in Los Angeles (PST, UTC-8) is 11:12 UTC
    assert chosen_moment("2026-12-04T03:12", "America/Los_Angeles", now) == datetime(2026, 12, 4, 11, 12, tzinfo=UTC)
    assert local_value(datetime(2026, 12, 4, 11, 12, tzinfo=UTC), "America/Los_Angeles") == "2026-12-04T03:12"
    for value in ("", "soon", "2026-12-05T03:12", "1999-01-01T00:00"):
        with pytest.raises(ValueError):
            chosen_moment(value, "UTC", now)
    assert viewed_at(utc_now()) is None and viewed_at(utc_now() - H) is not None


HARD_VALUES = {  # the hostile-value sweep's named cases (tests/properties/test_any_value.py), as of a moment
    "carriage return": [row(crm_source="hub\rspot"), row(sync_type="con\rtacts"),
                        row(status="failed", error_message="boom\rthere")],
    "empty crm_source and sync_type": [row(crm_source=""), row(sync_type="")],
    "start -infinity": [row(start=Moment(infinite="-infinity"))],
    "start +infinity": [row(start=Moment(infinite="infinity"), end=None, status="running")],
    "start in year 1": [row(start=Moment(at=datetime(1, 1, 1)), end=Moment(at=datetime(1, 1, 1, 1)))],
    "success ending at infinity": [row(start=Moment(from_now=-3 * H), end=Moment(infinite="infinity"))],
    "1 MB message": [row(status="failed", error_message="m" * 1_000_000)],
}
ROUTES = ("/api/stats", "/api/crm-status?limit=1000", "/api/recent-syncs?limit=500", "/api/alerts?range=all")


@pytest.mark.parametrize("case", HARD_VALUES)
@pytest.mark.parametrize("engine_fixture", ["pg_engine", "deployed_engine"])
def test_any_value_as_of_answers_below_500(dash_app, use_engine, request, engine_fixture, case):
    db = request.getfixturevalue(engine_fixture)
    use_engine(db)
    client = dash_app.server.test_client()
    now = utc_now()
    insert(db, HARD_VALUES[case], now, aware=engine_fixture == "deployed_engine")
    for back in (2 * H, 4.5 * H, 40 * 24 * H):
        at = iso_utc((now - back).replace(microsecond=0))
        for route in ROUTES:
            answer = client.get(f"{route}{'&' if '?' in route else '?'}at={at}")
            assert answer.status_code == 200, (route, at, answer.get_data(as_text=True)[:300])
            assert answer.get_json().get("at") == at
    if case == "success ending at infinity":  # started 3 h ago, never ended: running 2 h ago
        at = iso_utc((now - 2 * H).replace(microsecond=0))
        assert client.get(f"/api/stats?at={at}").get_json()["overview"]["active_syncs"] == 1
        crm = client.get(f"/api/crm-status?at={at}").get_json()["crms"][0]
        assert crm["state"] == "running" and crm["status"] == "running"


def test_the_cards_link_as_of_the_same_moment():
    from dashapp.payloads.card_links import card_links

    at = datetime(2026, 12, 4, 3, 12, tzinfo=UTC)
    for key, link in card_links(at, at).items():
        assert link.endswith("at=2026-12-04T03:12:00Z") or "at=2026-12-04T03:12:00Z#" in link, key
    assert all("at=" not in link for link in card_links(at).values())
