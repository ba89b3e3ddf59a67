"""The timeline's ``late_started`` and ``late_ended`` events: the freshness rule (``queries.freshness``)
applied to the past.

A sync (crm_source, sync_type) is late when no run started by its expected time (the previous
run's start + its interval) plus the grace (``freshness.grace`` of its p95 duration). For the past,
each gap between a run's start and the pair's next start (or, for the last one, the window's end)
is compared in SQL (``LEAD()`` over the pair's runs in the window plus its last run before the
window, one index read per pair) with interval + grace: a longer gap is a late span from
previous start + interval + grace (``late_started``) to the next start (``late_ended``). A sync
whose plans fire at calendar times (crontab, solar) has no fixed interval: SQL returns its gaps
longer than the grace (no shorter one can be late), and each is checked against the firing beat's
own arithmetic (``beat_firing.firing_after``) puts due after the run's start.

Assumptions, said on the timeline's docs too:
- The interval is the sync's schedule **as it is now** (beat keeps only its latest ``last_run_at``
  and nobody keeps a schedule's history): the interval of the pair's ``interval`` plans as
  ``queries.crm_status`` matches them (the shortest when several), else, for a sync no schedule
  runs, the median gap between its latest runs (``freshness.estimated_plan``).
- Syncs whose plans are all clocked (one-off), broken or stopped (disabled, expired) have no late
  spans here: the present state of a stopped plan says nothing sure about the past. The
  ``queued`` grace (a send waiting for a worker) is not replayed either: beat's past sends are
  not kept.
- The grace is the sync's p95 duration now (``run_detail.expected_durations``), within
  ``freshness.MIN_GRACE`` .. ``MAX_GRACE``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from queries import freshness
from queries._sql import Binds, Connectable, connect, table, without_jit
from queries.beat_firing import describe, firing_after, moment, stopped
from queries.crm_status import latest_run_per_type, plans_of_syncs, records
from queries.recent_runs import recent_runs
from queries.run_detail import MAX_PAIRS, expected_durations

LATE_KINDS = ("late_started", "late_ended")
COLUMNS = ["kind", "crm_source", "sync_type", "at", "run_id", "expected_at", "interval_seconds", "grace_seconds",
           "late_seconds", "plan", "schedule", "total"]
PERIOD_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, "microseconds": 1e-6}
PAIRS_PER_STATEMENT = 500
MAX_SPANS = 50_000  # late gaps read in one call (a window of at most 31 days)


def thresholds(db: Connectable, now: datetime, crm_sources: tuple[str, ...] = (),
               sync_types: tuple[str, ...] = ()) -> dict[tuple[str, str], tuple[float | None, float, str]]:
    """Each sync's (interval seconds, grace seconds, where the plan comes from: schedule, beat or
    estimated), for the syncs that have one (see the module's docstring); for a sync whose plans
    fire at calendar times (crontab, solar) the interval is None and ``firing_plans`` holds them."""
    return _thresholds(db, now, crm_sources, sync_types)[0]


def _thresholds(db: Connectable, now: datetime, crm_sources: tuple[str, ...] = (), sync_types: tuple[str, ...] = ()
                ) -> tuple[dict[tuple[str, str], tuple[float | None, float, str]],
                           dict[tuple[str, str], list[freshness.Plan]]]:
    with connect(db) as conn:
        runs = [r for r in records(latest_run_per_type(conn, now))
                if (not crm_sources or r["crm_source"] in crm_sources)
                and (not sync_types or r["sync_type"] in sync_types)]
        runs, plans, _ = plans_of_syncs(conn, runs, now)
        found: dict[tuple[str, str], tuple[float | None, str]] = {}
        firing: dict[tuple[str, str], list[freshness.Plan]] = {}
        unplanned = []
        for run, pair_plans in zip(runs, plans, strict=True):
            pair = (run["crm_source"], run["sync_type"])
            if not pair_plans:
                unplanned.append(pair)
                continue
            every = [(s, p.source) for p in pair_plans if (s := _interval(p, now)) is not None]
            if every:
                found[pair] = min(every)
            elif calendar := [p for p in pair_plans if _fires_at_times(p, now)]:
                firing[pair] = calendar
        for chunk in range(0, len(unplanned), MAX_PAIRS):
            starts: dict[tuple[str, str], list[datetime]] = {}
            for row in recent_runs(conn, unplanned[chunk:chunk + MAX_PAIRS], freshness.ESTIMATE_FROM + 3,
                                   now).to_dict("records"):
                start = moment(row["start_time"])
                if start is not None:
                    starts.setdefault((row["crm_source"], row["sync_type"]), []).append(start)
            for pair, times in starts.items():
                estimate = freshness.estimated_plan(times)
                if estimate is not None and (seconds := _interval(estimate, now)) is not None:
                    found[pair] = (seconds, "estimated")
        for pair, calendar in firing.items():
            found[pair] = (None, calendar[0].source)
        pairs = sorted(found)
        p95: dict[tuple[str, str], float | None] = {}
        for chunk in range(0, len(pairs), MAX_PAIRS):
            for row in expected_durations(conn, pairs[chunk:chunk + MAX_PAIRS]).to_dict("records"):
                p95[(row["crm_source"], row["sync_type"])] = _float(row["p95_seconds"])
    return {pair: (seconds, freshness.grace(p95.get(pair)).total_seconds(), source)
            for pair, (seconds, source) in found.items()}, firing


def _fires_at_times(plan: freshness.Plan, now: datetime) -> bool:
    """A crontab or solar plan beat can compute and has not stopped: its firings are calendar times."""
    return not plan.broken and plan.task.kind in ("crontab", "solar") and stopped(plan.task, now) is None


def _interval(plan: freshness.Plan, now: datetime) -> float | None:
    """An interval plan's seconds between firings; None for any other plan or a stopped one."""
    task = plan.task
    if plan.broken or task.kind != "interval" or task.every is None or task.period not in PERIOD_SECONDS:
        return None
    if stopped(task, now) is not None:
        return None
    seconds = float(task.every) * PERIOD_SECONDS[task.period]
    return seconds if seconds >= 1 else None


def _float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return None if number != number else number


def late_events(db: Connectable, start: datetime, end: datetime, kinds: tuple[str, ...] = LATE_KINDS,
                crm_sources: tuple[str, ...] = (), sync_types: tuple[str, ...] = (), limit: int = 200,
                now: datetime | None = None) -> pd.DataFrame:
    """The ``limit`` newest late events at [start, end): kind, crm_source, sync_type, at, run_id
    (the run before the span for late_started, the run ending it for late_ended), expected_at (that
    run's start + interval), interval_seconds, grace_seconds, late_seconds (late_ended: from
    expected_at + grace to the next start), plan (schedule, beat or estimated), and ``total``."""
    kinds = tuple(k for k in kinds if k in LATE_KINDS)
    if not kinds:
        return pd.DataFrame(columns=COLUMNS)
    now = now or end
    found, firing = _thresholds(db, now, crm_sources, sync_types)
    events: list[dict] = []
    pairs = sorted(found)
    for chunk in range(0, len(pairs), PAIRS_PER_STATEMENT):
        part = {p: found[p] for p in pairs[chunk:chunk + PAIRS_PER_STATEMENT]}
        for row in _late_gaps(db, start, end, part).to_dict("records"):
            pair = (row["crm_source"], row["sync_type"])
            interval, grace, source = part[pair]
            if interval is None:  # calendar times: the firing due after this run, by beat's arithmetic
                expected = _first_firing(firing[pair], row["start_time"], now)
                if expected is None:
                    continue
            else:
                expected = row["start_time"] + timedelta(seconds=interval)
            late_at = expected + timedelta(seconds=grace)
            following = row["next_start"]
            if late_at >= (end if following is None or pd.isna(following) else following):
                continue  # a calendar plan's candidate gap that was not late
            common = {"crm_source": row["crm_source"], "sync_type": row["sync_type"], "expected_at": expected,
                      "interval_seconds": interval, "grace_seconds": grace, "plan": source,
                      "schedule": None if interval is not None else "; ".join(describe(p.task) for p in firing[pair])}
            if "late_started" in kinds and start <= late_at < end:
                events.append({"kind": "late_started", "at": late_at, "run_id": int(row["id"]),
                               "late_seconds": None, **common})
            if "late_ended" in kinds and following is not None and not pd.isna(following) \
                    and start <= following < end and following > late_at:
                events.append({"kind": "late_ended", "at": following, "run_id": int(row["next_id"]),
                               "late_seconds": (following - late_at).total_seconds(), **common})
    events.sort(key=lambda e: (e["at"], e["run_id"], e["kind"]), reverse=True)
    frame = pd.DataFrame(events[:max(1, int(limit))], columns=COLUMNS)
    frame["total"] = len(events)
    return frame


def _first_firing(plans: list[freshness.Plan], start: object, now: datetime) -> datetime | None:
    """The soonest firing of ``plans`` due after a run that started at ``start`` (aware UTC)."""
    began = moment(start)
    if began is None:
        return None
    times = [f.at for plan in plans if (f := firing_after(plan.task, began, now)).at is not None]
    return min(times) if times else None


def _late_gaps(db: Connectable, start: datetime, end: datetime,
               found: dict[tuple[str, str], tuple[float | None, float, str]]) -> pd.DataFrame:
    """The runs of ``found``'s pairs (in the window, and each pair's last before it) followed by a
    gap longer than interval + grace (a calendar plan's: longer than the grace, the candidates
    ``late_events`` checks against each firing): crm_source, sync_type, id, start_time, next_id,
    next_start (NULL when no run followed before the window's end)."""
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        without_jit(conn)
        # each pair a number: the window sorts narrow rows by an integer, not two texts
        values = ", ".join(f"({n}, {b.bind(c)}, {b.bind(t)}, CAST({b.bind((i or 0) + g)} AS DOUBLE PRECISION))"
                           for n, ((c, t), (i, g, _)) in enumerate(found.items()))
        low, high = b.bind(start), b.bind(end)
        finite = " AND isfinite(h.start_time)" if b.postgres else ""
        if b.postgres:
            longer = "COALESCE(g.next_start, {high}) - g.start_time > p.secs * INTERVAL '1 second'"
        else:
            longer = "(julianday(COALESCE(g.next_start, {high})) - julianday(g.start_time)) * 86400.0 > p.secs"
        statement = f"""
            WITH plan (n, c, t, secs) AS (VALUES {values}),
            before AS (
                SELECT p.n, (
                    SELECT h.id FROM {h} h
                    WHERE h.crm_source = p.c AND h.sync_type = p.t AND h.start_time < {low}{finite}
                    ORDER BY h.start_time DESC, h.id DESC LIMIT 1) AS id
                FROM plan p),
            runs AS (
                SELECT p.n, h.id, h.start_time
                FROM {h} h JOIN plan p ON h.crm_source = p.c AND h.sync_type = p.t
                WHERE h.start_time >= {low} AND h.start_time < {high}{finite}
                UNION ALL
                SELECT p.n, h.id, h.start_time FROM before p JOIN {h} h ON h.id = p.id),
            g AS (
                SELECT n, id, start_time, LEAD(id) OVER w AS next_id, LEAD(start_time) OVER w AS next_start
                FROM runs WINDOW w AS (PARTITION BY n ORDER BY start_time, id))
            SELECT p.c AS crm_source, p.t AS sync_type, g.id, g.start_time, g.next_id, g.next_start
            FROM g JOIN plan p ON p.n = g.n
            WHERE {longer.format(high=high)}
            ORDER BY g.start_time DESC LIMIT {MAX_SPANS}"""
        return b.frame(statement, times=("start_time", "next_start"))
