"""Is each sync fresh? The one rule that says so, for the overview, ``/api/crm-status``, the
``late`` alert rule and ``/metrics`` alike. No SQL: ``queries.crm_status`` gathers the facts.

A sync (a CRM and sync type) runs by one or more plans: a django-celery-beat task (beat's own
arithmetic, ``queries.beat_firing``), else its ``sync_schedule`` row's own fields, else an
estimate from the gaps between its latest runs. Its state, worst first:

- ``late``: a firing its plan should have sent, the first after its latest run (or beat's first
  firing of a task that has not run since it last changed), has produced no run within a grace:
  the sync's usual duration at p95, at least ``MIN_GRACE``. A weekday crontab over the weekend,
  a task whose ``start_time`` is ahead, a disabled, expired or finished one-off task: never late.
- ``failing``: its latest run finished failed or partial.
- ``queued``: its plan sent it (beat's ``last_run_at``, the schedule row's ``last_run``) after its
  latest run started, and no worker has started it yet: never late while it waits less than
  ``QUEUED_LIMIT``; past that it is late, and says how long it has been queued.
- ``unknown``: no schedule and too few runs to estimate how often it runs, or a schedule that
  cannot be read (a crontab beat would refuse, a beat task that is not in beat's tables).
- ``running``: its latest run is running.
- ``on_time``: none of the above.
- ``paused``: every plan has stopped (disabled, expired, a one-off that ran, a schedule ended).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from queries.beat_firing import BeatTask, Firing, describe, firing_after, iso, next_firing, stopped

STATES = ("late", "failing", "unknown", "running", "queued", "on_time", "paused")  # worst first
LABELS = {"late": "Late", "failing": "Failing", "unknown": "Unknown", "running": "Running", "queued": "Queued",
          "on_time": "On time", "paused": "Paused"}
QUEUED_LIMIT = timedelta(minutes=15)  # a send waiting longer for a worker is late after all
MIN_GRACE = timedelta(minutes=5)
MAX_MISSED = 3  # the late rule turns critical at critical_factor (2) missed firings
MAX_GRACE = timedelta(hours=6)
ESTIMATE_FROM = 3  # runs at least, for an unscheduled sync's interval


@dataclass(frozen=True)
class Plan:
    """What makes a sync run: a task in beat's arithmetic and where it comes from."""
    task: BeatTask
    source: str  # "beat", "schedule" (the sync_schedule row's own fields), "estimated"
    where: str  # for notes: "beat task #12 'hubspot contacts' (django)", "schedule #3"
    schedule_id: int | None = None
    stored_next: datetime | None = None  # the documented shape's next_run
    broken: str | None = None  # why no time can be told (its beat task is not in beat's tables)

    def next_sync(self, latest_start: datetime | None, now: datetime) -> Firing:
        """When it fires next: beat's answer for a beat task; a stored ``next_run`` still ahead;
        else the firing after the later of the row's ``last_run`` and the latest run."""
        if self.broken:
            return Firing(None, self.broken, broken=True)
        if self.source == "beat":
            return next_firing(self.task, now)
        why = stopped(self.task, now)
        if why:
            return Firing(None, why)
        if self.stored_next is not None and self.stored_next > now:
            return Firing(self.stored_next)
        base = _later(self.task.last_run_at, latest_start)
        return next_firing(self.task, now) if base is None else firing_after(self.task, base, now)

    def expected(self, latest_start: datetime | None, now: datetime) -> Firing:
        """The firing that should have produced the sync's next run: the first after its latest
        run; beat's own next firing when beat last sent the task before that run started (that
        send started it), or when the task has not run since it last changed."""
        if self.broken:
            return Firing(None, self.broken, broken=True)
        last_sent = self.task.last_run_at
        if self.source == "beat" and (last_sent is None or latest_start is None or last_sent <= latest_start):
            return next_firing(self.task, now)
        base = latest_start if self.source == "beat" else _later(self.task.last_run_at, latest_start)
        if base is None:
            return Firing(None, "it has not run yet")
        return firing_after(self.task, base, now)

    def describe(self) -> str:
        return self.where if self.source == "estimated" else f"{self.where}, {describe(self.task)}"

    def sent_since(self, latest_start: datetime | None, now: datetime) -> tuple[datetime, datetime] | None:
        """(last sent, first sent) when the plan sent the sync after its latest run started (beat's
        ``last_run_at``, a schedule row's ``last_run``) and no run has started since: it waits in a
        queue. The first send is the firing due after that run (when no later than the last send)."""
        sent = self.task.last_run_at
        if self.broken or self.source == "estimated" or sent is None or sent > now:
            return None
        if latest_start is not None and sent <= latest_start:
            return None
        first = firing_after(self.task, latest_start, now).at if latest_start is not None else None
        return sent, (first if first is not None and latest_start is not None and latest_start < first <= sent
                      else sent)


@dataclass(frozen=True)
class Freshness:
    state: str
    reason: str
    expected_at: datetime | None  # when the next run was due (UTC)
    overdue_seconds: float  # how long past expected_at, 0 when not past
    next_sync: datetime | None
    next_sync_source: str | None
    next_sync_note: str
    grace_seconds: float  # how long after expected_at a run may appear before the sync is late
    missed: int = 0  # firings due more than the grace ago with no run since (at most MAX_MISSED)


def grace(p95_seconds: float | None) -> timedelta:
    """How long after a firing its run may appear: the usual duration at p95, within bounds."""
    if p95_seconds is None or p95_seconds != p95_seconds or p95_seconds <= 0:
        return MIN_GRACE
    return max(MIN_GRACE, min(MAX_GRACE, timedelta(seconds=float(p95_seconds))))


def decide(plans: list[Plan], latest: dict | None, now: datetime, p95_seconds: float | None = None,
           unplanned: str = "no schedule runs this sync, and too few runs to estimate one",
           queued_limit: timedelta = QUEUED_LIMIT) -> Freshness:
    """The state of one sync: ``plans`` its schedules, ``latest`` its newest run (``status_class``,
    ``start_time`` aware UTC, ``id``) or None when it never ran; ``unplanned`` says why it has none;
    a sync sent and waiting for a worker is queued, not late, for up to ``queued_limit``."""
    start = latest.get("start_time") if latest else None
    status_class = latest.get("status_class") if latest else None
    nexts = [(plan, plan.next_sync(start, now)) for plan in plans]
    expecteds = [(plan, plan.expected(start, now)) for plan in plans]
    next_plan, upcoming = _soonest(nexts)
    expect_plan, expected = _soonest(expecteds)
    if next_plan is not None:
        note = f"{next_plan.source}: {next_plan.describe()}"
    elif plans:
        note = "; ".join(f"{p.where}: {f.note}" for p, f in nexts)
    else:
        note = unplanned
    overdue = max(0.0, (now - expected.at).total_seconds()) if expected is not None and expected.at else 0.0

    def made(state: str, reason: str, missed: int = 0) -> Freshness:
        return Freshness(state, reason, expected.at if expected else None, overdue,
                         upcoming.at if upcoming else None, next_plan.source if next_plan else None, note,
                         grace(p95_seconds).total_seconds(), missed)

    if status_class == "running":
        return made("running", f"run #{latest['id']} started {iso(start)} and is running")
    sends = [(plan, found) for plan in plans if (found := plan.sent_since(start, now)) is not None]
    queued = None
    if sends:
        send_plan, (last_sent, first_sent) = min(sends, key=lambda pf: pf[1][1])
        waited = now - first_sent
        by = "beat" if send_plan.source == "beat" else "its schedule"
        queued = (waited, f"sent by {by} at {iso(last_sent)}, waiting for a worker"
                          + (f" (due since {iso(first_sent)})" if first_sent < last_sent else ""))
    if plans and expected is None and upcoming is None:
        if any(f.broken for _, f in nexts):  # beat could not fire it either: not a pause an operator chose
            return made("unknown", f"its schedule cannot be read: {note}")
        return made("paused", f"it will not run again: {note}")
    late = expected is not None and expected.at is not None and now > expected.at + grace(p95_seconds)
    if late and queued is not None and queued[0] < queued_limit:
        late = False  # beat sent it and it waits for a worker: queued, not late (below)
    if late:
        ran = f"no run since {iso(start)}" if start is not None else "it has never run"
        if queued is not None:
            ran += f"; queued for {_span(queued[0].total_seconds())} ({queued[1]})"
        due = {"beat": "beat should have sent it at", "schedule": "its schedule was due at",
               "estimated": "at its usual pace it was due at"}[expect_plan.source]
        return made("late", f"{due} {iso(expected.at)} ({expect_plan.describe()}); {ran}",
                    _missed(expect_plan.task, expected.at, now - grace(p95_seconds), now))
    if status_class in ("failed", "partial"):
        return made("failing", f"its latest run #{latest['id']} ({iso(start)}) finished {latest.get('status')}")
    if queued is not None:
        return made("queued", queued[1])
    if not plans:
        return made("unknown", note)
    if latest is None:
        return made("on_time", f"it has not run yet; first due {iso(expected.at if expected else None)}")
    return made("on_time", f"latest run #{latest['id']} {latest.get('status')} at {iso(start)}; "
                           f"next due {iso(expected.at if expected else None)}")


def estimated_plan(starts: list[datetime]) -> Plan | None:
    """An unscheduled sync's plan: every median gap between its latest runs (newest first)."""
    if len(starts) < ESTIMATE_FROM:
        return None
    gaps = sorted((a - b).total_seconds() for a, b in zip(starts, starts[1:], strict=False))
    middle = gaps[len(gaps) // 2] if len(gaps) % 2 else (gaps[len(gaps) // 2 - 1] + gaps[len(gaps) // 2]) / 2
    if middle < 1:
        return None
    task = BeatTask(kind="interval", every=int(middle), period="seconds", last_run_at=starts[0])
    return Plan(task, "estimated", f"every ~{_span(middle)} (its latest {len(starts)} runs)")


def _missed(task: BeatTask, first: datetime, until: datetime, now: datetime) -> int:
    """Firings from ``first`` up to ``until``, counted to MAX_MISSED."""
    count, at = 0, first
    while at is not None and at <= until and count < MAX_MISSED:
        count += 1
        following = firing_after(task, at, now).at
        at = following if following is not None and following > at else None
    return count


def _soonest(found: list[tuple[Plan, Firing]]) -> tuple[Plan | None, Firing | None]:
    timed = [(p, f) for p, f in found if f.at is not None]
    return min(timed, key=lambda pf: pf[1].at) if timed else (None, None)  # type: ignore[arg-type,return-value]


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a is not None and b is not None else a or b


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"
