"""The embedded demo on a believable clock: schedules of 1-5 minutes that the runs
follow (one CRM visibly late), counts that add up, a backfill that reports its days."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from dashapp.demo import embedded as demo
from dashapp.recording import crm_calls as api_calls
from dashapp.storage import migrate
from dashapp.storage.db import sqlite_engine
from dashapp.storage.sync_tables import metadata, sync_history, sync_schedule
from queries._sql import data_zone, to_utc
from queries.clock import utc_now

pytestmark = pytest.mark.slow  # a demo warehouse built per module (about 15 s)
@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """Thirty hours of demo (two days' transactions): six at today's schedules, the rest before."""
    engine = sqlite_engine(tmp_path_factory.mktemp("demo") / "demo.sqlite3", "orchestration")
    with engine.begin() as conn:
        metadata.create_all(conn)
    migrate.upgrade(engine)
    writer = api_calls.Writer(engine, flush_seconds=0.05)
    api_calls.use_writer(writer)
    until = utc_now().replace(microsecond=0)
    days: list[tuple[int, int]] = []
    written = demo.backfill(engine, until=until, report=lambda d, n: days.append((d, n)), history=timedelta(hours=30))
    yield engine, until, written, days
    writer.close()
    api_calls.use_writer(None)
    engine.dispose()


def _frame(engine, statement) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(statement).mappings().all())
        zone = data_zone(conn)
    for column in ("start_time", "end_time", "last_run", "next_run"):
        if column in frame:
            frame[column] = to_utc(frame[column], zone)
    return frame


def test_recent_runs_follow_their_schedules_and_one_crm_is_late(filled):
    engine, until, written, days = filled
    assert days == [(1, 2), (2, 2)]
    runs = _frame(engine, select(sync_history.c.crm_source, sync_history.c.sync_type, sync_history.c.start_time))
    assert len(runs) == written
    schedules = _frame(engine, select(sync_schedule).where(sync_schedule.c.enabled))
    recent = runs[runs["start_time"] >= until - demo.LIVE_HISTORY + timedelta(minutes=10)]
    for job in demo.JOBS:
        if job.crontab:
            continue
        mine = recent[(recent["crm_source"] == job.crm) & (recent["sync_type"] == job.sync_type)]
        gaps = mine["start_time"].sort_values().diff().dropna().dt.total_seconds()
        assert 1 <= job.live_minutes <= 5
        assert gaps.median() == pytest.approx(job.live_minutes * 60, abs=15), job
        if job.crm == demo.LATE_CRM:  # its worker stopped: no run in the last LATE_STOPPED
            assert mine["start_time"].max() <= until - demo.LATE_STOPPED
        row = schedules[(schedules["crm_source"] == job.crm) & (schedules["model_name"] == job.sync_type)].iloc[0]
        assert row["every"] == job.live_minutes and row["period"] == "minutes"
        assert row["last_run"] == mine["start_time"].max()  # the schedule's last run is the latest run


def test_jobs_are_due_when_their_schedule_says(filled):
    engine, until, _, _ = filled
    schedules = _frame(engine, select(sync_schedule).where(sync_schedule.c.enabled))
    for job in demo.JOBS:
        row = schedules[(schedules["crm_source"] == job.crm) & (schedules["model_name"] == job.sync_type)].iloc[0]
        if job.crontab:
            continue
        due_at = row["last_run"] + timedelta(minutes=job.live_minutes)
        assert job not in demo.due_jobs(engine, due_at - timedelta(seconds=1), [job])
        assert (job in demo.due_jobs(engine, due_at + timedelta(seconds=1), [job])) == (job.crm != demo.LATE_CRM)
    job = next(j for j in demo.JOBS if j.crm == "callrail")
    demo.mark_started(engine, job, until + timedelta(minutes=3))
    assert job not in demo.due_jobs(engine, until + timedelta(minutes=3, seconds=30), [job])
    assert job in demo.due_jobs(engine, until + timedelta(minutes=3 + job.live_minutes, seconds=1), [job])


def test_partial_runs_reject_part_of_what_they_processed(filled):
    engine, *_ = filled
    rows = _frame(engine, select(sync_history.c.status, sync_history.c.records_processed,
                                 sync_history.c.records_failed, sync_history.c.error_message)
                  .where(sync_history.c.status == "partial"))
    assert len(rows) > 0
    for row in rows.itertuples():
        rejected, _, of, *_ = row.error_message.split(" ")
        assert int(rejected) == row.records_failed and int(of) == row.records_processed, row.error_message
