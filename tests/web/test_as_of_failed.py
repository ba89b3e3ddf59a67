"""``GET /api/failed-operations?at=`` and ``/api/failed-operations/<id>?at=``: the operations whose
run had failed by a past moment, each in the state its attempts queued by then gave it, computed
here in Python from the rows the test wrote; live answers unchanged; a bad ``at`` a 400 naming it.
PostgreSQL (both shapes) and SQLite."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import insert

from dashapp.display import iso_utc
from dashapp.storage.app_tables import failed_operations, operation_attempts
from queries._sql import app_db
from queries.clock import utc_now
from queries.failed_operations import STATES
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs

H = timedelta(hours=1)
M = timedelta(minutes=1)
AT_AGO = 4 * H
MAX = 3


@pytest.fixture
def client(dash_app, use_engine, db):
    empty_app_tables(db)
    use_engine(db)
    return dash_app.server.test_client()


def write(db, now):
    runs = insert_runs(db, [
        Run("hubspot", "contacts", "failed", 10 * H, 10 * H - M, error="e0"),   # 0: retried, resolved later
        Run("callrail", "calls", "partial", 6 * H, 5 * H, error="e1"),          # 1: failed by then, untouched
        Run("hubspot", "deals", "failed", 6 * H, 2 * H, error="e2"),            # 2: ended after the moment
        Run("hubspot", "deals", "failed", 3 * H, 3 * H - M, error="e3"),        # 3: started after it
        Run("genius", "appointments", "failed", 20 * H, 19 * H, error="e4"),    # 4: three failed attempts by then
        Run("hubspot", "contacts", "failed", 8 * H, 7 * H, error="retry 1"),    # 5: the run attempt 1 of 0 recorded
        Run("arrivy", "tasks", "failed", 9 * H, 8 * H, error="e6"),             # 6: first retried after the moment
    ], now)
    ago = {  # sync index -> attempts: (queued, started, finished ago, state, run index)
        0: [(8 * H, 8 * H, 7 * H, "failed", 5), (6 * H, 6 * H, 3 * H, "resolved", None)],
        4: [(18 * H, 18 * H, 17 * H, "failed", None), (16 * H, 16 * H, 15 * H, "failed", None),
            (14 * H, 14 * H, 13 * H, "failed", None)],
        6: [(3 * H, 3 * H, 2 * H, "failed", None)],
    }
    naive = now.replace(tzinfo=None)
    with app_db(db).begin() as conn:
        for index, attempts in ago.items():
            last = attempts[-1][3]
            conn.execute(insert(failed_operations).values(
                sync_id=runs[index].id, crm_source=runs[index].crm_source, operation_type=runs[index].sync_type,
                state="abandoned" if index == 4 else last, attempts=len(attempts), max_attempts=MAX,
                updated_at=naive))
            for n, (queued, started, finished, state, run) in enumerate(attempts, 1):
                conn.execute(insert(operation_attempts).values(
                    sync_id=runs[index].id, attempt=n, task_id=f"t-{runs[index].id}-{n}", task_name="t",
                    requested_by="alice", state=state, queued_at=naive - queued, started_at=naive - started,
                    finished_at=naive - finished, run_id=None if run is None else runs[run].id,
                    error=None if state == "resolved" else f"attempt {n} failed"))
    return runs, ago


def expected(runs, ago, at_ago):
    """sync id -> (state, attempts) at the moment ``at_ago`` ago, from the rows written."""
    retry_runs = {runs[run].id for attempts in ago.values() for *_, run in attempts if run is not None}
    found = {}
    for index, run in enumerate(runs):
        if run.id in retry_runs or run.start_ago <= at_ago or (run.end_ago is not None and run.end_ago < at_ago):
            continue
        by_then = [a for a in ago.get(index, []) if a[0] >= at_ago]
        if not by_then:
            found[run.id] = ("failed", 0)
            continue
        _, started, finished, state, _ = by_then[-1]
        if finished >= at_ago:
            now_state = "resolved" if state == "resolved" else ("abandoned" if len(by_then) >= MAX else "failed")
        else:
            now_state = "running" if started >= at_ago else "queued"
        found[run.id] = (now_state, len(by_then))
    return found


def test_operations_as_of_a_moment(client, db):
    now = utc_now().replace(microsecond=0)
    runs, ago = write(db, now)
    at = now - AT_AGO
    response = client.get(f"/api/failed-operations?range=all&at={quote(iso_utc(at))}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    want = expected(runs, ago, AT_AGO)
    assert {o["id"]: (o["state"], o["attempts"]) for o in body["operations"]} == want
    assert body["counts"] == {s: sum(1 for state, _ in want.values() if state == s) for s in STATES}
    assert body["total"] == len(want)
    assert body["as_of"] == iso_utc(at) and body["as_of_note"]
    running = client.get(f"/api/failed-operations?range=all&state=running&at={quote(iso_utc(at))}").get_json()
    assert {o["id"] for o in running["operations"]} == {i for i, (s, _) in want.items() if s == "running"}


def test_one_operation_as_of_a_moment(client, db):
    now = utc_now().replace(microsecond=0)
    runs, ago = write(db, now)
    at = now - AT_AGO
    body = client.get(f"/api/failed-operations/{runs[0].id}?at={quote(iso_utc(at))}").get_json()
    assert (body["state"], body["attempts"]) == expected(runs, ago, AT_AGO)[runs[0].id]
    assert [a["state"] for a in body["attempts_list"]] == ["failed", "running"]
    assert body["attempts_list"][1]["finished_at"] is None
    assert client.get(f"/api/failed-operations/{runs[2].id}?at={quote(iso_utc(at))}").status_code == 404


def test_live_answer_is_unchanged(client, db):
    now = utc_now().replace(microsecond=0)
    runs, ago = write(db, now)
    body = client.get("/api/failed-operations?range=all").get_json()
    states = {o["id"]: o["state"] for o in body["operations"]}
    assert states[runs[0].id] == "resolved" and states[runs[4].id] == "abandoned" and states[runs[6].id] == "failed"
    assert runs[2].id in states and runs[3].id in states
    assert "as_of" not in body


@pytest.mark.parametrize("path", ["/api/failed-operations", "/api/failed-operations/1"])
def test_a_bad_at_is_a_400_naming_it(client, path):
    response = client.get(f"{path}?at=tomorrow")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("at:")


def _ids(component) -> set[str]:
    found = set()
    if isinstance(component, list | tuple):
        for child in component:
            found |= _ids(child)
        return found
    if getattr(component, "id", None) and "d-none" not in (getattr(component, "className", "") or ""):
        found.add(component.id if isinstance(component.id, str) else str(component.id))
    children = getattr(component, "children", None)
    return found | (_ids(children) if children is not None and not isinstance(children, str) else set())


def test_the_page_as_of_a_moment_says_so_and_offers_no_retry(dash_app, use_engine, db, monkeypatch):
    from dashapp.web import ids
    from dashapp.web.pages import failed as page

    empty_app_tables(db)
    use_engine(db)
    monkeypatch.setattr(page, "_access_note", lambda settings, user: ("", True))  # an operator with a broker
    at = utc_now().replace(microsecond=0) - AT_AGO
    shown = _ids(page.layout(at=iso_utc(at)))
    assert ids.FAILED_AS_OF_NOTE in shown and ids.FAILED_ACTIONS not in shown and ids.FAILED_RETRY_ONE not in shown
    live = _ids(page.layout())
    assert ids.FAILED_AS_OF_NOTE not in live and ids.FAILED_ACTIONS in live and ids.FAILED_RETRY_ONE in live


def test_counts_as_of_a_moment_from_the_rollups(client, db):
    """With the run rollups built, the failed count as of T comes from them less the runs that had
    not ended by T: the same answer as the raw table's."""
    from dashapp.storage import rollups
    from queries import run_rollups

    now = utc_now().replace(microsecond=0)
    runs, ago = write(db, now)
    rollups.build(db, now)
    assert run_rollups.ready(db) is not None
    at = now - AT_AGO
    want = expected(runs, ago, AT_AGO)
    for query in ("range=all", "range=7d", "range=24h"):
        body = client.get(f"/api/failed-operations?{query}&at={quote(iso_utc(at))}").get_json()
        assert body["counts"] == {s: sum(1 for state, _ in want.values() if state == s) for s in STATES}, query
        assert body["total"] == len(want)
