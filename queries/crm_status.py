"""The state of every sync (CRM and sync type): its latest run, when it fires next, and whether
it is fresh (``queries.freshness`` decides).

One row per (crm_source, sync_type), so a failing type is never hidden behind another type's
success, plus one per schedule that has never produced a run. A sync's plans are the schedule its
latest run names (``configuration.schedule_id``, as runs started by a schedule, ``<mode>_scheduled``,
carry it), else its CRM's schedules whose ``model_name`` matches the sync type (case, punctuation
and a plural ``s`` aside). A schedule whose django-celery-beat task is readable (by
``periodic_task_id``, or ``{"schedule_id": N}`` in the task's kwargs) fires by beat's arithmetic
(``queries.beat_firing``); else by its own fields; a sync no schedule runs, by the median gap
between its latest runs.

As of a past moment T (``as_of``): each pair's latest run among those started by T, one that ended
after T shown running (``recent_runs.running_at``), its state decided at T from those runs and the
schedules as they are now (``ASSUMED``: the past of a schedule is not kept; beat keeps only its
latest ``last_run_at``).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

import pandas as pd

from queries import freshness
from queries._sql import Binds, Connectable, connect, read_frame, sql, table
from queries.beat_firing import BeatTask, moment
from queries.beat_tasks import MAX_TASKS, beat_tasks, schedule_id_in
from queries.choices import PAIRS_CTE
from queries.durations import add_duration
from queries.freshness import Plan
from queries.messages import ROW_BOUND
from queries.outcomes import class_case
from queries.recent_runs import recent_runs, running_at, started_by
from queries.run_detail import MAX_PAIRS, expected_durations
from queries.schedules import CRON_FIELDS, all_schedules
from queries.table_shape import shape

TIMES = ("start_time", "end_time")
ASSUMED = ("schedules as they are now: beat keeps only its latest last_run_at and the warehouse no past "
           "of a schedule; a run that ended after this moment is shown running, with its final record counts")

# The pairs come from a skip scan over the (crm_source, sync_type) index; each pair's newest run
# is one short probe (on the deployed (crm_source, sync_type, start_time DESC) index, or backwards
# down the start_time index): milliseconds on millions of rows, the same SQL on SQLite.
_LATEST_PER_PAIR = """
{pairs}
SELECT r.id, r.crm_source, r.sync_type, r.status, {status_class} AS status_class, r.start_time, r.end_time,
       r.records_processed, r.records_created, r.records_updated, r.records_failed,
       SUBSTR(r.error_message, 1, {bound}) AS error_message, LENGTH(r.error_message) AS error_message_length,
       r.configuration
FROM {h} r
WHERE r.id IN (
    SELECT COALESCE(
        (SELECT l.id FROM {h} l
         WHERE l.crm_source = p.c AND l.sync_type = p.t AND l.start_time <= {latest}
         ORDER BY l.start_time DESC, l.id DESC LIMIT 1),
        (SELECT l.id FROM {h} l  -- every run of the pair at an impossible time: its earliest
         WHERE l.crm_source = p.c AND l.sync_type = p.t ORDER BY l.start_time, l.id LIMIT 1))
    FROM pairs p WHERE p.c IS NOT NULL AND p.t IS NOT NULL
)
ORDER BY r.crm_source, r.sync_type
"""


def latest_run_per_type(db: Connectable, now: datetime, as_of: bool = False) -> pd.DataFrame:
    """The newest run of every (crm_source, sync_type) pair, with its status class and duration:
    newest among runs started by ``time_bounds.latest(now)`` (a run at +infinity or next year is
    an impossible time, listed on /health, not the sync's latest run); a pair whose every run is
    later than that still has one (its earliest), so no sync the warehouse holds goes unlisted.
    ``as_of``: ``now`` is a past moment: the newest run started by it, a pair with none is left
    out, and a run that ended after it is running (``running_at``)."""
    with connect(db) as conn:
        h = table(conn, "sync_history")
        b = Binds(conn)
        statement = _LATEST_PER_PAIR.format(pairs=PAIRS_CTE.format(h=h), h=h, bound=ROW_BOUND,
                                            status_class=class_case(conn, "r.status"),
                                            latest=b.bind(started_by(now, as_of)))
        frame = read_frame(conn, sql(statement, times=TIMES, params=tuple(b.time_params)), b.params, times=TIMES)
    if as_of:
        moment = pd.Timestamp(now if now.tzinfo else now.replace(tzinfo=UTC))
        frame = running_at(frame[frame["start_time"].notna() & (frame["start_time"] <= moment)]
                           .reset_index(drop=True), now)
    return add_duration(frame, now)


@functools.lru_cache(maxsize=16384)
def _loose(name: object) -> str:
    """``Contacts``, ``contact`` and ``CONTACT-S`` alike: lower case, letters and digits, no plural s."""
    text = re.sub(r"[^a-z0-9]", "", str(name or "").lower())
    return text[:-1] if text.endswith("s") and len(text) > 1 else text


OWN_PERIODS = {"weeks": ("days", 7), "days": ("days", 1), "hours": ("hours", 1), "minutes": ("minutes", 1),
               "seconds": ("seconds", 1), "microseconds": ("microseconds", 1)}
STATE_COLUMNS_OUT = ("state", "state_reason", "expected_at", "overdue_seconds", "grace_seconds", "missed",
                     "next_sync", "next_sync_source", "next_sync_note", "schedule_id")
LATEST_COLUMNS = ("id", "crm_source", "sync_type", "status", "status_class", "start_time", "end_time",
                  "records_processed", "records_created", "records_updated", "records_failed", "error_message",
                  "error_message_length", "duration_seconds")


def own_task(row: dict) -> BeatTask:
    """A schedule row's own fields as a task in beat's arithmetic: an interval or a crontab read
    in UTC (the warehouse's TIME_ZONE), bounded by ``start_at`` and ``end_at``, last sent at
    ``last_run`` (documented shape)."""
    kind = str(row.get("recurrence_type") or "").strip().lower()
    enabled = row.get("enabled")
    common = {"enabled": True if enabled is None or enabled != enabled else bool(enabled),
              "last_run_at": moment(row.get("last_run")), "start_time": moment(row.get("start_at")),
              "expires": moment(row.get("end_at"))}
    if kind == "interval":
        period, factor = OWN_PERIODS.get(str(row.get("period") or "").strip().lower(), (None, 1))
        try:
            every = int(float(row.get("every"))) * factor  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            every = None
        return BeatTask(kind="interval", every=every, period=period, **common)
    if kind == "crontab":
        fields = {f: None if row.get(f) is None or row.get(f) != row.get(f) else str(row.get(f)).strip() or "*"
                  for f in CRON_FIELDS}
        return BeatTask(kind="crontab", timezone="UTC", **fields, **common)
    return BeatTask(kind=None, **common)


def _plans(conn, now: datetime) -> tuple[list[tuple[dict, Plan]], str]:
    """Each schedule row with its plan, and what a sync without one is told."""
    schedules = all_schedules(conn)
    found = shape(conn)
    if schedules is None:
        why = found.table_problems.get("sync_schedule") or f"table {table(conn, 'sync_schedule')} does not exist"
        return [], f"no schedules: {why}; too few runs to estimate how often it runs"
    tasks = beat_tasks(conn)
    by_id = {int(t["beat_id"]): t for t in tasks if t.get("beat_id") is not None}
    by_kwargs = {}
    rows = records(schedules)
    if any(r.get("periodic_task_id") is None or r["periodic_task_id"] != r["periodic_task_id"] for r in rows):
        for t in tasks:  # only schedules without periodic_task_id need the tasks' kwargs read
            sid = schedule_id_in(t.get("beat_kwargs"))
            if sid is not None:
                by_kwargs.setdefault(sid, t)
    plans = []
    for row in rows:
        sid = None if row["id"] is None or row["id"] != row["id"] else int(row["id"])
        link = row.get("periodic_task_id")
        link = None if link is None or link != link else int(link)
        task = by_id.get(link) if link is not None else None
        task = task or (by_kwargs.get(sid) if sid is not None else None)
        if task is not None:
            plan = Plan(BeatTask.from_row(task), "beat",
                        f"beat task #{task['beat_id']} {str(task.get('beat_name'))[:80]!r}, {found.beat_note}", sid)
        elif link is not None and found.has_beat and not found.beat_problem:
            # beat will not fire a task it does not have: the row's own fields would be a guess
            cut = (f"; beat has more than {MAX_TASKS:,} tasks and only the first {MAX_TASKS:,} were read"
                   if len(tasks) >= MAX_TASKS else "")
            plan = Plan(BeatTask(kind=None), "beat", f"beat task #{link}, {found.beat_note}", sid,
                        broken=f"its beat task #{link} is not in beat's tables{cut}")
        else:
            why = f" (beat's tasks unreadable: {found.beat_problem})" if found.beat_problem else ""
            plan = Plan(own_task(row), "schedule", f"schedule #{sid}{why}", sid, moment(row.get("next_run")))
        plans.append((row, plan))
    return plans, "no schedule runs this sync, and too few runs to estimate one"


class _Index:
    """The plans by schedule id and by CRM and loose model name (5,000 syncs: no scan per sync)."""

    def __init__(self, plans: list[tuple[dict, Plan]], orphans: dict[str, list[Plan]]):
        self.by_id: dict[int, list[Plan]] = {}
        self.by_model: dict[tuple[str, str], list[Plan]] = {}
        for row, plan in plans:
            if plan.schedule_id is not None:
                self.by_id.setdefault(plan.schedule_id, []).append(plan)
            self.by_model.setdefault((row["crm_source"], _loose(row["model_name"])), []).append(plan)
        self.orphans = orphans

    def plans(self, run: dict | None, crm: str, sync_type: str) -> list[Plan]:
        """The schedule the run names; else the CRM's schedules for its type; else the CRM's
        schedules that name none of its syncs (a ``model_name`` that matches no sync type)."""
        named = schedule_id_in(run.get("configuration")) if run else None
        if named is not None and named in self.by_id:
            return self.by_id[named]
        return self.by_model.get((crm, _loose(sync_type))) or self.orphans.get(crm, [])


def plans_of_syncs(conn, runs: list[dict], now: datetime,
                   unrun: bool = False) -> tuple[list[dict], list[list[Plan]], str]:
    """Each sync's plans: the schedule its latest run names, else its CRM's schedules for its type, else
    the CRM's schedules that name none of its syncs. ``runs``: one record per sync (crm_source,
    sync_type, and configuration where it ran). Returns the syncs (with ``unrun``, followed by one
    record per schedule whose CRM has never run, a sync too), their plans in the same order, and what
    a sync without a plan is told."""
    plans, unplanned = _plans(conn, now)
    runs = list(runs)
    crms = {r["crm_source"] for r in runs}
    loose_keys = {(r["crm_source"], _loose(r["sync_type"])) for r in runs}
    orphans: dict[str, list[Plan]] = {}
    for row, plan in plans:
        pair = (row["crm_source"], row["model_name"])
        if pair[0] is None or pair[1] is None or (pair[0], _loose(pair[1])) in loose_keys:
            continue
        if pair[0] in crms:  # its CRM runs, but no sync of that name: the CRM's unnamed syncs follow it
            orphans.setdefault(pair[0], []).append(plan)
        elif unrun:  # a schedule that has never produced a run is a sync too
            loose_keys.add((pair[0], _loose(pair[1])))
            runs.append({"crm_source": pair[0], "sync_type": pair[1]})
    index = _Index(plans, orphans)
    return runs, [index.plans(r if "id" in r else None, r["crm_source"], r["sync_type"]) for r in runs], unplanned


def sync_states(db: Connectable, now: datetime, as_of: bool = False) -> list[dict]:
    """One record per sync: its latest run (NaN/NaT where it never ran), ``state``, ``state_reason``,
    ``expected_at``, ``overdue_seconds``, ``next_sync`` (UTC or NaT), ``next_sync_source`` (beat,
    schedule, estimated or None), ``next_sync_note`` (where the time came from, or why there is
    none) and ``schedule_id``. ``as_of``: the states at ``now``, a past moment (the module's docstring)."""
    with connect(db) as conn:
        latest = latest_run_per_type(conn, now, as_of)
        runs, pair_plans, unplanned = plans_of_syncs(conn, records(latest), now, unrun=True)
        unscheduled = [(r["crm_source"], r["sync_type"]) for r, p in zip(runs, pair_plans, strict=True)
                       if not p and "id" in r]
        starts: dict[tuple[str, str], list] = {}
        for row in recent_runs(conn, unscheduled, freshness.ESTIMATE_FROM + 3, now, as_of).to_dict("records"):
            starts.setdefault((row["crm_source"], row["sync_type"]), []).append(moment(row["start_time"]))
        for i, run in enumerate(runs):
            if not pair_plans[i]:
                estimate = freshness.estimated_plan([s for s in starts.get((run["crm_source"], run["sync_type"]), [])
                                                     if s is not None])
                pair_plans[i] = [estimate] if estimate else []
        latest_of = [_latest(r) for r in runs]
        decided = [freshness.decide(p, lt, now, unplanned=unplanned)
                   for p, lt in zip(pair_plans, latest_of, strict=True)]
        late_ish = [(r["crm_source"], r["sync_type"]) for r, d in zip(runs, decided, strict=True)
                    if d.state == "late" and "id" in r]
        p95 = {}
        for chunk in range(0, len(late_ish), MAX_PAIRS):  # only a late-looking sync needs its grace
            for row in expected_durations(conn, late_ish[chunk:chunk + MAX_PAIRS]).to_dict("records"):
                p95[(row["crm_source"], row["sync_type"])] = row["p95_seconds"]
        for i, run in enumerate(runs):
            if (run["crm_source"], run["sync_type"]) in p95:
                decided[i] = freshness.decide(pair_plans[i], latest_of[i], now,
                                              _number(p95[(run["crm_source"], run["sync_type"])]), unplanned)
    columns = [c for c in latest.columns if c != "configuration"]
    found = []
    for run, decision, plans_of in zip(runs, decided, pair_plans, strict=True):
        found.append({**{c: run.get(c) for c in columns}, "state": decision.state, "state_reason": decision.reason,
                      "expected_at": decision.expected_at, "overdue_seconds": decision.overdue_seconds,
                      "grace_seconds": decision.grace_seconds, "missed": decision.missed,
                      "next_sync": decision.next_sync, "next_sync_source": decision.next_sync_source,
                      "next_sync_note": decision.next_sync_note,
                      "schedule_id": plans_of[0].schedule_id if plans_of else None})
    return found


def crm_status(db: Connectable, now: datetime, as_of: bool = False) -> pd.DataFrame:
    """``sync_states`` as a DataFrame, times as UTC timestamps (NaT where there is none)."""
    found = sync_states(db, now, as_of)
    frame = pd.DataFrame(found, columns=[*LATEST_COLUMNS, *STATE_COLUMNS_OUT])
    for column in ("start_time", "end_time", "expected_at", "next_sync"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def records(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows as dicts, a column at a time (``to_dict`` boxes every value: 5x slower)."""
    columns = list(frame.columns)
    return [dict(zip(columns, row, strict=True)) for row in zip(*(frame[c].tolist() for c in columns), strict=True)]


def _latest(run: dict) -> dict | None:
    if "id" not in run or run["id"] is None or run["id"] != run["id"]:
        return None
    return {"id": int(run["id"]), "status": run.get("status"), "status_class": run.get("status_class"),
            "start_time": moment(run.get("start_time"))}


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # 1e400 in JSON text is infinity
        return None
