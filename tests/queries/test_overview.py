"""The overview's queries on real PostgreSQL and on SQLite, against rows the test wrote."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import text

from queries.clock import utc_now
from queries.crm_status import crm_status
from queries.messages import ROW_BOUND
from queries.outcomes import success_rate
from queries.overview import overview_counts
from queries.recent_runs import recent_runs
from queries.recent_syncs import recent_syncs
from tests.support.rows import (
    H,
    M,
    Run,
    edge_case_runs,
    expected_overview,
    insert_runs,
    insert_schedules,
    latest_per_crm,
)


def test_overview_counts_follow_the_definitions(db):
    now = utc_now()
    runs = insert_runs(db, edge_case_runs(), now)
    counts = overview_counts(db, now).as_dict()
    assert counts == expected_overview(runs)
    # the rows were chosen so each definition is exercised, not zero
    # in_progress is running, completed a success, and a failed run that never closed counts
    assert counts["active_syncs"] == 2 and counts["completed_today"] == 4 and counts["failed_today"] == 3


def test_overview_counts_on_an_empty_table(db):
    assert overview_counts(db, utc_now()).as_dict() == {
        "active_syncs": 0, "completed_today": 0, "failed_today": 0, "partial_today": 0, "success_rate": None,
        "partial_rate": 0.0,
    }


def test_a_run_moves_out_of_the_window_as_time_passes(db):
    now = utc_now()
    insert_runs(db, edge_case_runs(), now)
    later = overview_counts(db, now + timedelta(minutes=11)).as_dict()
    # the failed hubspot run ended 23h50m before `now`: 11 minutes later it is outside
    assert later["failed_today"] == expected_overview(edge_case_runs())["failed_today"] - 1


@pytest.mark.parametrize(("completed", "failed", "rate"), [(15, 1, 93.75), (0, 0, 0.0), (2, 1, 66.67)])
def test_success_rate_rounds_to_two_decimals(completed, failed, rate):
    assert success_rate(completed, failed) == rate


def test_crm_status_is_the_latest_run_of_each_crm_and_sync_type(db):
    now = utc_now()
    runs = insert_runs(db, edge_case_runs(), now)
    frame = crm_status(db, now)
    latest: dict[tuple[str, str], object] = {}
    for run in runs:
        key = (run.crm_source, run.sync_type)
        if key not in latest or run.start_ago < latest[key].start_ago:
            latest[key] = run
    assert list(zip(frame["crm_source"], frame["sync_type"], strict=True)) == sorted(latest)
    assert len(frame) > len(latest_per_crm(runs))  # hubspot's deals is not hidden behind its contacts
    for row in frame.to_dict("records"):
        run = latest[(row["crm_source"], row["sync_type"])]
        assert row["id"] == run.id
        assert row["status"] == run.status  # 'queued' is shown as it is
        assert abs((row["start_time"].to_pydatetime() - run.start(now)).total_seconds()) < 1e-3
        expected = (run.end_ago and (run.start_ago - run.end_ago).total_seconds()) or run.start_ago.total_seconds()
        if run.status not in ("running", "in_progress") and run.end_ago is None:
            assert math.isnan(row["duration_seconds"])
        else:
            assert row["duration_seconds"] == pytest.approx(expected, abs=0.01)
    genius = frame.set_index("crm_source").loc["genius"]
    assert genius["status"] == "running" and genius["duration_seconds"] == pytest.approx(600, abs=0.01)
    arrivy = frame.set_index("crm_source").loc["arrivy"]
    assert arrivy["status"] == "in_progress" and arrivy["status_class"] == "running"
    assert arrivy["duration_seconds"] == pytest.approx(240, abs=0.01)  # running: now - start


@pytest.fixture(params=["pg_engine", "sqlite_db"])
def documented(request: pytest.FixtureRequest):
    """The documented shape only: its sync_schedule keeps last_run and next_run."""
    return request.getfixturevalue(request.param)


def test_next_sync_ignores_disabled_schedules_and_derives_null_next_run(documented):
    db = documented
    now = utc_now()
    insert_runs(db, edge_case_runs(), now)
    insert_schedules(db, [
        # interval, NULL next_run: derived from last_run
        {"crm_source": "hubspot", "recurrence_type": "interval", "every": 60, "period": "minutes",
         "last_run": now - 20 * M, "next_run": None, "enabled": True},
        # disabled, with a nearer next_run: must not count
        {"crm_source": "hubspot", "recurrence_type": "interval", "every": 5, "period": "minutes",
         "last_run": now - 4 * M, "next_run": now + M, "enabled": False},
        # a stored future next_run, and a crontab every quarter hour: the earlier wins
        {"crm_source": "genius", "recurrence_type": "interval", "every": 1, "period": "days",
         "next_run": now + 2 * H, "enabled": True},
        {"crm_source": "genius", "recurrence_type": "crontab", "crontab_minute": "*/15", "enabled": True},
        # a stale stored next_run: the interval after its latest run (5 min ago), not stepped past now
        {"crm_source": "callrail", "recurrence_type": "interval", "every": 30, "period": "minutes",
         "last_run": now - 40 * M, "next_run": now - 10 * M, "enabled": True},
    ], now)
    frame = crm_status(db, now).drop_duplicates("crm_source").set_index("crm_source")

    def close(actual, expected):
        assert abs((actual.to_pydatetime() - expected).total_seconds()) < 0.01

    close(frame.loc["hubspot", "next_sync"], now + 40 * M)
    # the first quarter hour after its latest run (10 min ago): a firing already past stays put
    started = now - 10 * M
    quarter = started.replace(second=0, microsecond=0) + timedelta(minutes=15 - started.minute % 15)
    close(frame.loc["genius", "next_sync"], min(quarter, now + 2 * H))
    close(frame.loc["callrail", "next_sync"], now + 25 * M)
    assert frame.loc["five9", "next_sync"] is None or str(frame.loc["five9", "next_sync"]) == "NaT"
    assert frame.loc["five9", "next_sync_note"] == "no schedule runs this sync, and too few runs to estimate one"
    assert frame.loc["five9", "state"] == "failing"  # its latest run failed; no plan to be late by
    assert frame.loc["hubspot", "next_sync_source"] == "schedule"


def test_without_a_schedule_table_next_sync_says_why(db):
    now = utc_now()
    insert_runs(db, edge_case_runs()[:2], now)
    with db.begin() as conn:
        conn.execute(text("DROP TABLE orchestration.sync_schedule"))
    frame = crm_status(db, now)
    assert frame["next_sync"].isna().all()
    assert "sync_schedule" in frame["next_sync_note"].iloc[0] and "does not exist" in frame["next_sync_note"].iloc[0]
    assert overview_counts(db, now).completed_today == 1


def test_recent_syncs_are_newest_first_and_limited(db):
    now = utc_now()
    runs = insert_runs(db, edge_case_runs(), now)
    frame = recent_syncs(db, 4, now)
    expected = sorted(runs, key=lambda r: r.start_ago)[:4]
    assert list(frame["id"]) == [r.id for r in expected]
    assert list(frame["status"]) == [r.status for r in expected]
    with pytest.raises(ValueError, match="limit"):
        recent_syncs(db, 0, now)


def test_unicode_and_long_error_messages_come_back_cut_with_their_length(db):
    """The recent list carries a message's first ROW_BOUND characters (queries.messages) and its
    full length in characters; the page's "show all" reads the rest."""
    now = utc_now()
    message = "Ошибка: 顧客 not found — ünïcödé ✓ " + "x" * 20000
    insert_runs(db, [edge_case_runs()[0]], now)
    insert_runs(db, [Run("hubspot", "contacts", "failed", M, M / 2, error=message)], now)
    frame = recent_syncs(db, 1, now)
    assert frame["error_message"].iloc[0] == message[:ROW_BOUND]
    assert int(frame["error_message_length"].iloc[0]) == len(message)


@pytest.mark.parametrize("name", ["pg_engine", "deployed_engine"])
def test_a_run_at_an_impossible_time_is_not_a_syncs_latest_run(name, request):
    """A run started at +infinity or next year (the warehouse holds them) is listed on /health,
    not taken as the sync's latest run: the state and strip come from the runs that happened."""
    engine = request.getfixturevalue(name)
    now = utc_now()
    with engine.begin() as conn:
        ids = [conn.execute(text(
            "INSERT INTO orchestration.sync_history (crm_source, sync_type, start_time, end_time, status) "
            f"VALUES ('hubspot', 'contacts', {start}, NULL, 'success') RETURNING id"),
            {"t": now - 10 * M}).scalar_one() for start in (":t", "'infinity'", ":t + interval '400 days'")]
    frame = crm_status(engine, now)
    row = frame.set_index("crm_source").loc["hubspot"]
    assert row["id"] == ids[0]
    assert "out of range" not in str(row.get("next_sync_note"))
    assert recent_runs(engine, [("hubspot", "contacts")], 5, now)["id"].tolist() == [ids[0]]
    with engine.begin() as conn:  # a sync whose every run is at an impossible time is still listed
        conn.execute(text("DELETE FROM orchestration.sync_history WHERE id = :id"), {"id": ids[0]})
    assert crm_status(engine, now).set_index("crm_source").loc["hubspot"]["id"] == ids[2]


def test_an_empty_crm_source_and_sync_type_are_a_sync_of_their_own(db):
    """'' is a value the warehouse holds (not NULL): its runs are a sync like any other."""
    now = utc_now()
    runs = insert_runs(db, [Run("", "", "success", H, H - M), Run("hubspot", "", "failed", M, M / 2)], now)
    frame = crm_status(db, now)
    assert sorted(zip(frame["crm_source"], frame["sync_type"], frame["id"], strict=True)) == sorted(
        (r.crm_source, r.sync_type, r.id) for r in runs)
