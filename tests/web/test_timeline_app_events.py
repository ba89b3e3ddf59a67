"""``GET /api/timeline``'s events from the app's own tables: breakers opened and closed, bursts of
429s and retries queued, resolved and abandoned, from rows the test writes, with the expected events
computed here in Python from the same rows; on PostgreSQL (both shapes) and SQLite."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from dashapp.display import iso_utc
from dashapp.storage.app_tables import api_calls, breaker_events, failed_operations, operation_attempts
from queries._sql import app_db
from queries.clock import utc_now
from queries.timeline_app import BURST_GAP, REASON_CHARS
from tests.conftest import empty_app_tables

H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)


@pytest.fixture
def client(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    return dash_app.server.test_client()


def naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def get(client, query: str) -> dict:
    answer = client.get(f"/api/timeline?{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def write_breakers(db, now) -> list[dict]:
    long_reason = "timeout <b>" + "x" * 1000
    rows = [
        dict(occurred_at=now - 30 * H, breaker="hubspot", crm_source="hubspot", from_state="closed", to_state="open",
             failure_count=5, reason="before the window", sync_run_id=None),
        dict(occurred_at=now - 10 * H, breaker="hubspot", crm_source="hubspot", from_state="closed", to_state="open",
             failure_count=7, reason=long_reason, sync_run_id=41),
        dict(occurred_at=now - 9 * H, breaker="hubspot", crm_source="hubspot", from_state="open",
             to_state="half_open", failure_count=7, reason=None, sync_run_id=None),
        dict(occurred_at=now - 8 * H, breaker="hubspot", crm_source="hubspot", from_state="half_open",
             to_state="closed", failure_count=0, reason=None, sync_run_id=None),
        dict(occurred_at=now - 4 * H, breaker="callrail-api", crm_source="callrail", from_state="closed",
             to_state="open", failure_count=3, reason="HTTP 503", sync_run_id=None),
    ]
    with app_db(db).begin() as conn:
        for row in rows:
            row["id"] = int(conn.execute(insert(breaker_events).values(
                **{k: (naive(v) if isinstance(v, datetime) else v) for k, v in row.items()})).inserted_primary_key[0])
    return rows


def expected_breakers(rows: list[dict], now, kinds=("open", "closed"), crm=None) -> list[tuple]:
    chosen = [r for r in rows if r["to_state"] in kinds and now - 24 * H <= r["occurred_at"] < now
              and (crm is None or r["crm_source"] == crm)]
    chosen.sort(key=lambda r: r["occurred_at"], reverse=True)
    return [(iso_utc(r["occurred_at"]), "breaker_opened" if r["to_state"] == "open" else "breaker_closed",
             r["crm_source"], r["breaker"], r["failure_count"],
             None if r["reason"] is None else r["reason"][:REASON_CHARS], r["sync_run_id"]) for r in chosen]


def breaker_tuple(e: dict) -> tuple:
    return (e["at"], e["kind"], e["crm_source"], e["breaker"], e["failure_count"], e["reason"], e["run_id"])


def test_breakers_opened_and_closed(client, db):
    now = utc_now()
    rows = write_breakers(db, now)
    body = get(client, "kind=breaker_opened,breaker_closed")
    expected = expected_breakers(rows, now)
    assert [breaker_tuple(e) for e in body["events"]] == expected and body["total"] == len(expected)
    opened = body["events"][2]
    assert opened["summary"].startswith("HubSpot breaker hubspot opened after 7 failures: timeout <b>xxx")
    assert len(opened["reason"]) == REASON_CHARS
    assert [breaker_tuple(e) for e in get(client, "kind=breaker_closed")["events"]] == expected_breakers(
        rows, now, kinds=("closed",))
    assert [breaker_tuple(e) for e in get(client, "kind=breaker_opened&crm_source=hubspot")["events"]] == \
        expected_breakers(rows, now, kinds=("open",), crm="hubspot")
    assert get(client, "kind=breaker_opened&sync_type=contacts")["events"] == []  # a CRM's, not a sync type's


def write_calls(db, now) -> list[dict]:
    """429s of hubspot and callrail, with other answers between them; one burst runs over the window's start."""
    def call(crm: str, ago: timedelta, status: int | None = 429) -> dict:
        return dict(called_at=now - ago, crm_source=crm, endpoint="/v3/objects", method="GET", status_code=status,
                    duration_ms=12.0)

    rows = [
        # a burst from before the window into it: its event was before the window
        call("hubspot", 24 * H + 2 * M), call("hubspot", 24 * H - 1 * M), call("hubspot", 24 * H - 4 * M),
        # a burst of 4 with a 200 and a timeout in it (they neither end nor count in it)
        call("hubspot", 6 * H), call("hubspot", 6 * H - 2 * M), call("hubspot", 6 * H - 3 * M, 200),
        call("hubspot", 6 * H - 5 * M), call("hubspot", 6 * H - 6 * M, None), call("hubspot", 6 * H - 9 * M),
        # 5 minutes and 30 s later: a new burst of one
        call("hubspot", 6 * H - 14 * M - 30 * S),
        # callrail: one burst of 2, and a lone 500
        call("callrail", 3 * H), call("callrail", 3 * H - 4 * M - 50 * S), call("callrail", 2 * H, 500),
    ]
    with app_db(db).begin() as conn:
        conn.execute(insert(api_calls), [{**r, "called_at": naive(r["called_at"])} for r in rows])
    return rows


def expected_bursts(rows: list[dict], now, start: datetime, crm=None) -> list[tuple]:
    """Gaps and islands in Python over every 429 written; a burst's event is at its first call."""
    events = []
    for source in sorted({r["crm_source"] for r in rows}):
        times = sorted(r["called_at"] for r in rows if r["crm_source"] == source and r["status_code"] == 429)
        bursts: list[list[datetime]] = []
        for moment in times:
            if bursts and moment - bursts[-1][-1] < BURST_GAP:
                bursts[-1].append(moment)
            else:
                bursts.append([moment])
        for burst in bursts:
            inside = [t for t in burst if start <= t < now]
            if burst[0] >= start and inside and (crm is None or crm == source):
                events.append((iso_utc(burst[0]), "rate_limited", source, len(inside), iso_utc(inside[-1])))
    return sorted(events, reverse=True)


def burst_tuple(e: dict) -> tuple:
    return (e["at"], e["kind"], e["crm_source"], e["calls"], e["until"])


def test_bursts_of_429s(client, db):
    now = utc_now()
    rows = write_calls(db, now)
    body = get(client, "kind=rate_limited")
    expected = expected_bursts(rows, now, now - 24 * H)
    assert [burst_tuple(e) for e in body["events"]] == expected and body["total"] == len(expected)
    assert len(expected) == 3  # the rows above are meant to make three bursts in the window
    assert body["events"][2]["summary"] == "HubSpot rate limited: 4 HTTP 429s over 9 min"
    assert [burst_tuple(e) for e in get(client, "kind=rate_limited&crm_source=callrail")["events"]] == \
        expected_bursts(rows, now, now - 24 * H, crm="callrail")
    # a window starting inside the first burst: its event is before the window
    start = now - 24 * H + 30 * S
    custom = get(client, f"kind=rate_limited&start={iso_utc(start)}&end={iso_utc(now)}")
    assert [burst_tuple(e) for e in custom["events"]] == expected_bursts(rows, now, start)


def write_retries(db, now) -> tuple[list[dict], list[dict]]:
    def op(sync_id: int, crm: str, kind: str, state: str, attempts: int, finished: timedelta | None,
           last_error: str | None = None) -> dict:
        return dict(sync_id=sync_id, crm_source=crm, operation_type=kind, state=state, attempts=attempts,
                    max_attempts=3, last_error=last_error, finished_at=None if finished is None else now - finished,
                    updated_at=now)

    def attempt(sync_id: int, n: int, by: str, state: str, queued: timedelta, finished: timedelta | None,
                run_id: int | None = None) -> dict:
        return dict(sync_id=sync_id, attempt=n, task_id=f"sync-monitor-retry-{sync_id}-{n}", task_name="retry",
                    requested_by=by, state=state, queued_at=now - queued,
                    finished_at=None if finished is None else now - finished, run_id=run_id)

    operations = [
        op(101, "hubspot", "contacts", "resolved", 2, 3 * H),
        op(102, "callrail", "calls", "abandoned", 3, 1 * H, last_error="boom " + "y" * 2000),
        op(103, "genius", "appointments", "queued", 1, None),
        op(104, "arrivy", "tasks", "abandoned", 3, 30 * H, last_error="long ago"),
    ]
    attempts = [
        attempt(101, 1, "alice", "failed", 5 * H, 4.5 * H),
        attempt(101, 2, "bob", "resolved", 4 * H, 3 * H, run_id=9001),
        attempt(102, 1, "alice", "failed", 8 * H, 7 * H),
        attempt(102, 2, "auto", "failed", 6 * H, 5 * H),
        attempt(102, 3, "auto", "failed", 2 * H, 1 * H),
        attempt(103, 1, "carol", "queued", 10 * M, None),
        attempt(104, 3, "dave", "failed", 31 * H, 30 * H),
    ]
    with app_db(db).begin() as conn:
        conn.execute(insert(failed_operations), [
            {**r, "finished_at": r["finished_at"] and naive(r["finished_at"]), "updated_at": naive(now)}
            for r in operations])
        conn.execute(insert(operation_attempts), [
            {**r, "queued_at": naive(r["queued_at"]), "finished_at": r["finished_at"] and naive(r["finished_at"])}
            for r in attempts])
    return operations, attempts


def expected_retries(operations, attempts, now, kinds, crm=None) -> list[tuple]:
    start = now - 24 * H
    ops = {o["sync_id"]: o for o in operations}
    events = []
    for a in attempts:
        o = ops[a["sync_id"]]
        if "retry_queued" in kinds and start <= a["queued_at"] < now:
            events.append((iso_utc(a["queued_at"]), "retry_queued", o["crm_source"], o["operation_type"],
                           a["sync_id"], a["attempt"], a["requested_by"]))
        if "retry_resolved" in kinds and a["state"] == "resolved" and start <= a["finished_at"] < now:
            events.append((iso_utc(a["finished_at"]), "retry_resolved", o["crm_source"], o["operation_type"],
                           a["sync_id"], a["attempt"], a["run_id"]))
    for o in operations:
        if "retry_abandoned" in kinds and o["state"] == "abandoned" and start <= o["finished_at"] < now:
            events.append((iso_utc(o["finished_at"]), "retry_abandoned", o["crm_source"], o["operation_type"],
                           o["sync_id"], o["attempts"], o["last_error"][:REASON_CHARS]))
    return sorted([e for e in events if crm is None or e[2] == crm], key=lambda e: (e[0], e[4]), reverse=True)


def retry_tuple(e: dict) -> tuple:
    extra = {"retry_queued": e.get("by"), "retry_resolved": e.get("retry_run_id"), "retry_abandoned": e.get("error")}
    return (e["at"], e["kind"], e["crm_source"], e["sync_type"], e["run_id"], e["attempt"], extra[e["kind"]])


def test_retries_queued_resolved_and_abandoned(client, db):
    now = utc_now()
    operations, attempts = write_retries(db, now)
    kinds = ("retry_queued", "retry_resolved", "retry_abandoned")
    body = get(client, "kind=" + ",".join(kinds))
    expected = expected_retries(operations, attempts, now, kinds)
    assert [retry_tuple(e) for e in body["events"]] == expected and body["total"] == len(expected)
    by_kind = {e["kind"]: e for e in reversed(body["events"])}  # the newest of each kind
    assert by_kind["retry_queued"]["summary"] == "Retry 1 of Genius appointments run #103 queued by carol"
    assert by_kind["retry_abandoned"]["summary"].startswith(
        "Retries of CallRail calls run #102 abandoned after 3 attempts: boom yyy")
    for kind in kinds:
        assert [retry_tuple(e) for e in get(client, f"kind={kind}")["events"]] == expected_retries(
            operations, attempts, now, (kind,))
    narrowed = get(client, "kind=retry_queued,retry_abandoned&crm_source=callrail&sync_type=calls")["events"]
    assert [retry_tuple(e) for e in narrowed] == expected_retries(
        operations, attempts, now, ("retry_queued", "retry_abandoned"), crm="callrail")


def test_every_kind_together_pages_through_all(client, db):
    now = utc_now()
    write_breakers(db, now)
    write_calls(db, now)
    write_retries(db, now)
    whole = get(client, "limit=1000")
    assert whole["total"] == len(whole["events"]) > 10
    pages = [get(client, f"limit=5&offset={offset}")["events"] for offset in range(0, whole["total"], 5)]
    assert [e for page in pages for e in page] == whole["events"]
    assert [e["at"] for e in whole["events"]] == sorted((e["at"] for e in whole["events"]), reverse=True)
