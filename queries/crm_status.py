"""The state of every CRM and sync type: each pair's latest run and the next sync of the schedule
that runs it.

One row per (crm_source, sync_type), so a failing type is never hidden behind another type's
success. A pair's schedule is the one its latest run names (``configuration.schedule_id``, as
runs started by a schedule, ``<mode>_scheduled``, carry it), else the CRM's schedules whose
``model_name`` matches the sync type (case, punctuation and a plural ``s`` aside), else the CRM's
soonest one. ``queries.next_run`` says when each fires and from which source.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import pandas as pd

from queries._sql import Connectable, connect, read_frame, sql, table
from queries.choices import PAIRS_CTE
from queries.durations import add_duration
from queries.next_run import NextSync, next_sync
from queries.outcomes import class_case
from queries.schedules import all_schedules

TIMES = ("start_time", "end_time")

# The pairs come from a skip scan over the (crm_source, sync_type) index; each pair's newest run
# is one short probe (on the deployed (crm_source, sync_type, start_time DESC) index, or backwards
# down the start_time index): milliseconds on millions of rows, the same SQL on SQLite.
_LATEST_PER_PAIR = """
{pairs}
SELECT r.id, r.crm_source, r.sync_type, r.status, {status_class} AS status_class, r.start_time, r.end_time,
       r.records_processed, r.records_created, r.records_updated, r.records_failed,
       r.error_message, r.configuration
FROM {h} r
WHERE r.id IN (
    SELECT (SELECT l.id FROM {h} l
            WHERE l.crm_source = p.c AND l.sync_type = p.t
            ORDER BY l.start_time DESC, l.id DESC LIMIT 1)
    FROM pairs p WHERE p.c IS NOT NULL AND p.t IS NOT NULL
)
ORDER BY r.crm_source, r.sync_type
"""


def latest_run_per_type(db: Connectable, now: datetime) -> pd.DataFrame:
    """The newest run of every (crm_source, sync_type) pair, with its status class and duration."""
    with connect(db) as conn:
        h = table(conn, "sync_history")
        statement = _LATEST_PER_PAIR.format(pairs=PAIRS_CTE.format(h=h), h=h, status_class=class_case(conn, "r.status"))
        frame = read_frame(conn, sql(statement, times=TIMES), times=TIMES)
    return add_duration(frame, now)


def _loose(name: object) -> str:
    """``Contacts``, ``contact`` and ``CONTACT-S`` alike: lower case, letters and digits, no plural s."""
    text = re.sub(r"[^a-z0-9]", "", str(name or "").lower())
    return text[:-1] if text.endswith("s") and len(text) > 1 else text


def schedule_id_of(configuration: object) -> int | None:
    """``configuration.schedule_id`` of a run, whether the driver gave a dict or JSON text."""
    if isinstance(configuration, str):
        try:
            configuration = json.loads(configuration)
        except ValueError:
            return None
    value = configuration.get("schedule_id") if isinstance(configuration, dict) else None
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _soonest(found: list[tuple[int, NextSync]]) -> tuple[int | None, NextSync]:
    timed = [(sid, n) for sid, n in found if n.at is not None]
    if timed:
        return min(timed, key=lambda pair: pair[1].at)  # type: ignore[arg-type, return-value]
    return (found[0][0], found[0][1]) if found else (None, NextSync.none("no enabled schedule"))


def crm_status(db: Connectable, now: datetime) -> pd.DataFrame:
    """One row per CRM and sync type: the latest run, and ``next_sync`` (UTC or NaT),
    ``next_sync_source`` (beat, schedule, estimated or None), ``next_sync_note`` (why there is
    none, or whose schedule it is) and ``schedule_id``."""
    with connect(db) as conn:
        latest = latest_run_per_type(conn, now)
        schedules = all_schedules(conn)
        schedule_table = table(conn, "sync_schedule")
    if schedules is None:
        answers = [(None, NextSync.none(f"no schedules: table {schedule_table} does not exist"))] * len(latest)
    else:
        answers = [_for_pair(run, schedules, latest, now) for run in latest.to_dict("records")]
    return latest.drop(columns=["configuration"]).assign(
        next_sync=pd.Series(pd.to_datetime([a[1].at for a in answers], utc=True), index=latest.index),
        next_sync_source=[a[1].source for a in answers],
        next_sync_note=[a[1].note for a in answers],
        schedule_id=[a[0] for a in answers],
    )


def _for_pair(run: dict, schedules: pd.DataFrame, latest: pd.DataFrame, now: datetime) -> tuple[int | None, NextSync]:
    rows = schedules.to_dict("records")

    def latest_start(row: dict) -> datetime | None:
        same = latest[(latest["crm_source"] == row["crm_source"])
                      & (latest["sync_type"].map(_loose) == _loose(row["model_name"]))]
        moment = same["start_time"].max() if not same.empty else None
        return None if moment is None or pd.isna(moment) else moment.to_pydatetime()

    def answer(row: dict, start: datetime | None = None) -> tuple[int, NextSync]:
        return int(row["id"]), next_sync(row, now, start or latest_start(row))

    named = schedule_id_of(run.get("configuration"))
    if named is not None:
        for row in rows:
            if row["id"] is not None and int(row["id"]) == named:
                return answer(row, run["start_time"].to_pydatetime() if not pd.isna(run["start_time"]) else None)
    crm_rows = [r for r in rows if r["crm_source"] == run["crm_source"]]
    same_type = [r for r in crm_rows if _loose(r["model_name"]) == _loose(run["sync_type"])]
    if same_type:
        return _soonest([answer(r) for r in same_type])
    sid, found = _soonest([answer(r) for r in crm_rows])
    if found.at is not None:
        return sid, NextSync(found.at, found.source, "the CRM's next sync: no schedule runs this type")
    return sid, found
