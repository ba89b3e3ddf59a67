"""``GET /api/digest``: the morning digest's numbers computed again here, in plain Python, from the
rows the test writes (aliases, unknown statuses, a failed run that never closed, runs on the
window's edges, the week before), read back through the route on PostgreSQL (both table shapes)
and SQLite; incidents (resolved in the window after starting before it, resolved inside it, still
open); the worst CRM with a tie; the syncs late now against the overview's own states; a past local
day's window in a zone away from UTC; the card rendered from the answer; the 400s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from dashapp.display import iso_utc
from dashapp.payloads import digest as digest_payloads
from dashapp.web.components.digest_summary import summary_card
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs

H = timedelta(hours=1)
M = timedelta(minutes=1)
DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
ALIASES = {"completed": "success", "in_progress": "running"}
HOSTILE = '<b>"x"</b> & *y*'


@pytest.fixture
def client(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    return dash_app.server.test_client()


def write_runs(db, now) -> dict[str, Run]:
    runs = {
        # hubspot contacts: an incident from before the window resolved in it, then one inside it
        "anchor": Run("hubspot", "contacts", "success", 30 * H, 30 * H - M),
        "f1": Run("hubspot", "contacts", "failed", 26 * H, 26 * H - M),
        "p2": Run("hubspot", "contacts", "partial", 20 * H, 20 * H - M),
        "s3": Run("hubspot", "contacts", "completed", 10 * H, 9 * H),  # an alias of success
        "f4": Run("hubspot", "contacts", "failed", 5 * H, 5 * H - M),
        "r5": Run("hubspot", "contacts", "in_progress", 4 * H, None),  # running: counted nowhere
        "s6": Run("hubspot", "contacts", "success", 2 * H, 1 * H),
        # callrail calls: an incident still open, with a run that never closed (failed, end NULL)
        "c1": Run("callrail", "calls", "success", 12 * H, 11 * H),
        "c2": Run("callrail", "calls", "partial", 8 * H, 8 * H - M),
        "c3": Run("callrail", "calls", "weird", 7 * H, 7 * H - M),  # an unknown status: counted nowhere
        "c4": Run("callrail", "calls", "failed", 6 * H, None),
        # the hostile CRM: as many failed + partial runs as callrail, so the tie goes by name
        "x1": Run(HOSTILE, "deals", "failed", 3 * H, 3 * H - M),
        "x2": Run(HOSTILE, "deals", "failed", 2.5 * H, 2.5 * H - M),
        # a run started before the window and ended in it counts; one ended just before it does not
        "e1": Run("arrivy", "tasks", "success", 25 * H, 24 * H - 5 * M),
        "e2": Run("arrivy", "tasks", "failed", 25 * H, 24 * H + 5 * M),
    }
    # the week before
    for i in range(6):
        runs[f"w{i}"] = Run("genius", "appointments", "failed" if i % 2 else "success", (30 + i * 20) * H,
                            (30 + i * 20) * H - M)
    runs["wp"] = Run("genius", "appointments", "partial", 100 * H, 100 * H - M)
    runs["old"] = Run("genius", "appointments", "failed", 9 * 24 * H, 9 * 24 * H - M)  # before the week
    insert_runs(db, list(runs.values()), now)
    return runs


def klass(status: str | None) -> str | None:
    status = ALIASES.get(status, status)
    return status if status in ("running", "success", "failed", "partial") else None


def counted(runs, now, start: datetime, end: datetime) -> list[Run]:
    """The runs a window counts, by the overview's definition, decided here in Python."""
    found = []
    for run in runs:
        kind = klass(run.status)
        ended_in = run.end_ago is not None and start <= run.end(now) < end
        died_in = run.end_ago is None and start <= run.start(now) < end  # a failed run that never closed
        if (kind in ("success", "failed", "partial") and ended_in) or (kind == "failed" and died_in):
            found.append(run)
    return found


def rate(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def expected_numbers(runs, now, start, end) -> dict:
    def tally(chosen):
        n = {k: sum(1 for r in chosen if klass(r.status) == k) for k in ("success", "failed", "partial")}
        return {"runs": len(chosen), "completed": n["success"], "failed": n["failed"], "partial": n["partial"],
                "failure_rate": rate(n["failed"], n["success"] + n["failed"]),
                "partial_rate": rate(n["partial"], len(chosen))}

    day, week = tally(counted(runs, now, start, end)), tally(counted(runs, now, start - WEEK, start))
    per_crm: dict[str, list[Run]] = {}
    for run in counted(runs, now, start, end):
        per_crm.setdefault(run.crm_source, []).append(run)
    bad = {crm: sum(1 for r in rs if klass(r.status) in ("failed", "partial")) for crm, rs in per_crm.items()}
    most = max(bad.values())
    worst = min(crm for crm, n in bad.items() if n == most)
    return {**day, "week": week, "worst": (worst, sum(1 for r in per_crm[worst] if klass(r.status) == "failed"),
                                           sum(1 for r in per_crm[worst] if klass(r.status) == "partial"),
                                           len(per_crm[worst]))}


def get(client, query: str = "") -> dict:
    answer = client.get(f"/api/digest{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_the_last_24_hours_against_the_week_before(client, db):
    now = utc_now()
    runs = write_runs(db, now)
    body = get(client)
    end = datetime.fromisoformat(body["end"].replace("Z", "+00:00"))
    assert abs(end - now) < M and body["start"] == iso_utc(end - DAY)
    expected = expected_numbers(list(runs.values()), now, end - DAY, end)
    got = {k: body[k] for k in ("runs", "completed", "failed", "partial", "failure_rate", "partial_rate")}
    assert got == {k: expected[k] for k in got}
    assert {k: body["week_before"][k] for k in got} == expected["week"]
    assert body["week_before"]["runs_per_day"] == round(expected["week"]["runs"] / 7, 1)
    assert body["week_before"]["end"] == body["start"]
    assert body["change"] == {r: round(expected[r] - expected["week"][r], 2) for r in ("failure_rate", "partial_rate")}
    crm, failed, partial, total = expected["worst"]
    assert crm == HOSTILE  # the tie with callrail goes by name ('<' sorts before 'c')
    assert body["worst_crm"] == {"crm_source": crm, "name": crm, "failed": failed, "partial": partial, "runs": total}


def test_incidents_with_their_length_and_runs_lost(client, db):
    now = utc_now()
    write_runs(db, now)
    body = get(client)
    incidents = [(i["crm_source"], i["sync_type"], i["started"], i["resolved"], i["still_open"], i["runs_lost"])
                 for i in body["incidents"]]
    # written above: hubspot failed from f1 (before the window) to s3's end; from f4 to s6's end;
    # callrail from c2, still open (c2 partial and c4 failed lost so far; c3's status is no class)
    assert incidents == [
        ("hubspot", "contacts", iso_utc(now - 5 * H), iso_utc(now - 1 * H), False, 1),
        ("callrail", "calls", iso_utc(now - 8 * H), None, True, 2),
        ("hubspot", "contacts", iso_utc(now - 26 * H), iso_utc(now - 9 * H), False, 2),
    ]
    assert body["incidents_total"] == 3 and body["incidents_truncated"] is False
    first = body["incidents"][0]
    assert first["seconds"] == pytest.approx(4 * 3600, abs=1) and first["length"] == "4 h"
    assert body["incidents"][1]["length"].endswith(" so far")
    link = parse_qs(urlsplit(first["timeline_link"]).query)
    assert urlsplit(first["timeline_link"]).path == "/timeline"
    assert link == {"start": [iso_utc(now - 6 * H)], "end": [iso_utc(now)]}


def test_the_syncs_late_now_are_the_overviews(client, db):
    """hubspot deals ran every hour and stopped 6 hours ago: late by the overview's own states."""
    now = utc_now()
    insert_runs(db, [Run("hubspot", "deals", "success", (6 + i) * H, (6 + i) * H - M) for i in range(12)], now)
    body = get(client)
    states = client.get("/api/crm-status?limit=1000").get_json()["crms"]
    late = {(c["crm_source"], t["sync_type"]) for c in states for t in c["sync_types"] if t["state"] == "late"}
    assert ("hubspot", "deals") in late
    assert {(r["crm_source"], r["sync_type"]) for r in body["late"]} == late and body["late_total"] == len(late)
    assert body["late_note"] is None


def test_a_past_local_day_in_a_zone_away_from_utc(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db, DISPLAY_TIMEZONE="America/New_York", DIGEST_AT="07:30")
    client = dash_app.server.test_client()
    now = utc_now()
    runs = write_runs(db, now)
    zone = ZoneInfo("America/New_York")
    day = (now.astimezone(zone) - 2 * DAY).date()
    end = datetime(day.year, day.month, day.day, 7, 30, tzinfo=zone) + timedelta(days=1)
    end = end.astimezone(UTC)
    # runs around that window's edges, so a window off by an hour or a zone counts differently
    extra = [Run("edge", "x", "failed", now - end + 30 * M, now - end + 20 * M),
             Run("edge", "x", "success", now - end - 20 * M, now - end - 30 * M),
             Run("edge", "x", "partial", now - end + DAY - 20 * M, now - end + DAY - 30 * M)]
    insert_runs(db, extra, now)
    body = get(client, f"?day={day.isoformat()}")
    assert body["day"] == day.isoformat()
    assert (body["start"], body["end"]) == (iso_utc(end - DAY), iso_utc(end))
    expected = expected_numbers([*runs.values(), *extra], now, end - DAY, end)
    assert {k: body[k] for k in ("runs", "completed", "failed", "partial")} == \
        {k: expected[k] for k in ("runs", "completed", "failed", "partial")}
    assert body["late"] is None and "past day" in body["late_note"]


def test_the_card_shows_the_answer(dash_app, use_engine, migrated_sqlite_db):
    use_engine(migrated_sqlite_db)
    now = utc_now()
    runs = write_runs(migrated_sqlite_db, now)
    body = get(dash_app.server.test_client())
    expected = expected_numbers(list(runs.values()), now, now - DAY, now)
    card = summary_card(body)
    texts, links = [], []

    def walk(node) -> None:
        if isinstance(node, str):
            texts.append(node)
            return
        if isinstance(node, list | tuple):
            for child in node:
                walk(child)
            return
        if getattr(node, "href", None):
            links.append(node.href)
        if getattr(node, "children", None) is not None:
            walk(node.children)

    walk(card)
    text = " ".join(texts)
    assert f"{expected['failure_rate']:.2f}%" in text and f"{expected['partial_rate']:.2f}%" in text
    points = round(expected["failure_rate"] - expected["week"]["failure_rate"], 2)
    arrow = "▲" if points > 0 else "▼" if points < 0 else "="
    assert f"{arrow} " in text and f"{abs(points):.2f} points" in text
    assert f"{expected['worst'][0]}: {expected['worst'][1]} failed" in text  # the hostile name as text
    assert "hubspot contacts" not in text  # the display name is used
    assert "HubSpot contacts" in text and "still open" in text
    assert [i["timeline_link"] for i in body["incidents"]] == [link for link in links if "start=" in link][1:]
    assert links[0] == body["timeline_link"]


@pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "2026-1-1", "1999-12-31", "2999-01-01", "9999-12-31", "",
                                 "2026-12-01T00:00"])
def test_a_bad_day_is_a_400_naming_it(client, day):
    answer = client.get(f"/api/digest?day={day}")
    if day == "":  # blank is absent: the last 24 hours
        assert answer.status_code == 200
        return
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error"].startswith("day:"), answer.get_json()


def test_naive_and_aware_ends_agree(db):
    now = utc_now()
    write_runs(db, now)
    aware = digest_payloads.digest(db, now, now)
    naive = digest_payloads.digest(db, now.replace(tzinfo=None), now)
    assert aware == {**naive, "generated_at": aware["generated_at"]}
