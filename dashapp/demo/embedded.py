"""The embedded demo: a warehouse's sync history, written through the real recorder.

With no DATABASE_URL the app runs on a SQLite file holding the user's two tables. ``backfill``
fills it with the runs the ten CRMs' schedules would have made since the last recorded run
(30 days on a new file: the last LIVE_HISTORY at today's schedules of 1-5 minutes, the weeks
before at the slower ones they had then), a day per transaction, reporting its progress; and
``LiveSimulator`` keeps running each sync when its schedule row says it is due (``due_jobs``), so
"next sync in 2 min" comes true. One CRM (LATE_CRM) is visibly late: its worker stopped
LATE_STOPPED before the demo started. Every run goes through ``record_sync``, the API production
sync code uses, so the demo exercises the real write path; the pages read the file exactly as they read a warehouse.

The simulated outcomes come from a seeded generator (this module is a stand-in for the CRMs'
APIs, on the write side); nothing on the read path is generated.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from dashapp.demo.latency import call_latency
from dashapp.recording import (
    CircuitBreaker,
    CircuitOpenError,
    ContextThreadPoolExecutor,
    close_abandoned,
    crm_call_writer,
    record_api_call,
    record_sync,
    record_transition,
    resume_sync,
    start_sync,
)
from dashapp.storage.sync_tables import metadata
from queries import demo_data
from queries._sql import bind_time, data_zone, to_utc
from queries.clock import utc_now

log = logging.getLogger(__name__)
HISTORY = timedelta(days=30)
LIVE_HISTORY = timedelta(hours=6)  # backfilled at today's 1-5 minute schedules
LATE_CRM = "marketsharp"  # its worker stopped LATE_STOPPED before the demo started: its next sync
LATE_STOPPED = timedelta(minutes=20)  # reads "due 18 min ago" and a `late` alert stays firing
LIVE_MINUTES = {"hubspot": 2, "callrail": 1, "genius": 3, "salesrabbit": 5, "arrivy": 4, "five9": 2,
                "marketsharp": 2, "leadconduit": 3, "salespro": 5}  # per CRM; gsheet keeps its crontab
FAILURE_RATES = {"hubspot": 0.02, "callrail": 0.02, "genius": 0.03, "salesrabbit": 0.01, "arrivy": 0.01,
                 "five9": 0.02, "marketsharp": 0.02, "leadconduit": 0.01, "salespro": 0.01, "gsheet": 0.02}


@dataclass(frozen=True)
class Job:
    crm: str
    sync_type: str
    endpoint: str
    every_minutes: int  # the cadence of the history before LIVE_HISTORY
    volume: int  # typical records per run
    seconds: int  # typical duration
    failure_rate: float
    errors: tuple[str, ...]
    crontab: tuple[str, str] | None = None  # (minute, hour) when the schedule is a crontab
    live_minutes: int = 3  # the schedule today: 1-5 minutes


class ReadTimeout(Exception):
    pass


class HTTPError(Exception):
    pass


class AuthenticationError(Exception):
    pass


class WarehouseError(Exception):
    pass


_TIMEOUT = "ReadTimeout|HTTPSConnectionPool(host='{host}', port=443): Read timed out. (read timeout=30)"
JOBS = (
    Job("hubspot", "contacts", "/crm/v3/objects/contacts", 60, 1800, 95, 0.04, (
        "HTTPError|429 Client Error: Too Many Requests for url: https://api.hubapi.com/crm/v3/objects/contacts?limit=100&after=48213",
        "HTTPError|502 Server Error: Bad Gateway for url: https://api.hubapi.com/crm/v3/objects/contacts",
    )),
    Job("hubspot", "deals", "/crm/v3/objects/deals", 120, 600, 60, 0.03, (
        "HTTPError|429 Client Error: Too Many Requests for url: https://api.hubapi.com/crm/v3/objects/deals?limit=100",
    )),
    Job("callrail", "calls", "/v3/a/ACC8154748ae6bd4e278a7cddd38a662f4f/calls.json", 30, 420, 40, 0.05, (
        _TIMEOUT.replace("{host}", "api.callrail.com"),
    )),
    Job("genius", "appointments", "/api/v2/appointments", 60, 350, 75, 0.06, (
        "AuthenticationError|401 Unauthorized: access token expired at 2026-11-02T04:00:00Z",
        "WarehouseError|duplicate key value violates unique constraint \"genius_appointment_pkey\" DETAIL: Key (appointment_id)=(88412) already exists.",
    )),
    Job("salesrabbit", "leads", "/leads", 120, 260, 35, 0.03, (
        "HTTPError|500 Server Error: Internal Server Error for url: https://api.salesrabbit.com/leads?page=7",
    )),
    Job("arrivy", "tasks", "/api/tasks", 60, 150, 25, 0.02, (
        _TIMEOUT.replace("{host}", "www.arrivy.com"),
    )),
    Job("five9", "call_logs", "ws:getCallLogReport", 30, 900, 120, 0.05, (
        "HTTPError|SOAP fault: Report is not ready yet (reportId a1b2c3d4-5e6f-7a8b-9c0d-112233445566)",
        _TIMEOUT.replace("{host}", "api.five9.com"),
    )),
    Job("marketsharp", "contacts", "/odata/Contacts", 240, 700, 150, 0.04, (
        "HTTPError|400 Bad Request: OData query exceeds the maximum of 5000 records",
    )),
    Job("leadconduit", "events", "/events", 60, 500, 30, 0.02, (
        "HTTPError|503 Server Error: Service Unavailable for url: https://app.leadconduit.com/events",
    )),
    Job("salespro", "estimates", "/api/estimates", 180, 120, 45, 0.03, (
        "WarehouseError|value too long for type character varying(255) in column \"customer_notes\"",
    )),
    Job("gsheet", "budget_sheet", "sheets/v4/spreadsheets/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms", 720, 40, 8, 0.02, (
        "HTTPError|403 Forbidden: The caller does not have permission",
    ), crontab=("0", "6,18")),
)
JOBS = tuple(Job(**{**job.__dict__, "live_minutes": LIVE_MINUTES.get(job.crm, 3) + (job.sync_type == "deals"),
                    "failure_rate": FAILURE_RATES.get(job.crm, job.failure_rate)}) for job in JOBS)
_ERRORS = {"ReadTimeout": ReadTimeout, "HTTPError": HTTPError,
           "AuthenticationError": AuthenticationError, "WarehouseError": WarehouseError}


class SimClock:
    """A clock the backfill moves by hand, so runs carry historical times."""

    def __init__(self, moment: datetime) -> None:
        self.now = moment

    def __call__(self) -> datetime:
        return self.now


class DemoApi:
    """The simulated CRM APIs' side of a run: each page fetched is recorded with
    ``record_api_call`` (rate-limit headers in the CRM's dialect), and each job has a circuit
    breaker whose transitions are recorded. Both through the same APIs sync code uses."""

    LIMIT, WINDOW = 100, 60.0  # calls per window, seconds

    def __init__(self) -> None:
        self.used: dict[str, tuple[float, int]] = {}
        self.breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, job: Job, clock) -> CircuitBreaker:
        if job.crm + job.sync_type not in self.breakers:
            self.breakers[job.crm + job.sync_type] = CircuitBreaker(
                f"{job.crm}-{job.sync_type}", job.crm, failure_threshold=3, reset_timeout=600,
                clock=lambda: clock().timestamp(),
                on_transition=lambda *a: record_transition(*a, at=clock()))
        return self.breakers[job.crm + job.sync_type]

    def call(self, job: Job, clock, rng: random.Random, status: int | None = 200, error: str | None = None) -> None:
        now = clock().timestamp()
        window_start, used = self.used.get(job.crm, (now, 0))
        if now - window_start >= self.WINDOW:
            window_start, used = now, 0
        used = min(used + 1 + rng.randrange(12), self.LIMIT)
        self.used[job.crm] = (window_start, used)
        remaining, reset = self.LIMIT - used, max(1, int(window_start + self.WINDOW - now))
        if job.crm == "hubspot":
            headers = {"X-HubSpot-RateLimit-Max": str(self.LIMIT), "X-HubSpot-RateLimit-Remaining": str(remaining),
                       "X-HubSpot-RateLimit-Interval-Milliseconds": str(reset * 1000)}
        else:
            headers = {"X-RateLimit-Limit": str(self.LIMIT), "X-RateLimit-Remaining": str(remaining),
                       "X-RateLimit-Reset": str(reset)}
        if status == 429:
            headers["Retry-After"] = str(reset)
        latency = call_latency(job.crm, job.endpoint, rng) if status is not None else 30_000.0
        record_api_call(job.crm, job.endpoint, "GET", status, latency, headers=headers, error=error,
                        called_at=clock())


def _api_failure(message: str) -> tuple[int | None, str]:
    """The HTTP side of a simulated error: its status code (None for a timeout)."""
    if "Read timed out" in message:
        return None, message
    for code in (429, 401, 403, 400, 500, 502, 503):
        if f"{code} " in message:
            return code, message
    return 200, message  # a warehouse error: the API call itself went well


def _fetch_page(api: DemoApi, breaker: CircuitBreaker, job: Job, clock, rng: random.Random) -> None:
    with contextlib.suppress(CircuitOpenError), breaker:
        api.call(job, clock, rng)


@dataclass(frozen=True)
class RunPlan:
    """What one simulated run will do, drawn when it starts: how long it lasts (s), how many
    records it fetches, and the roll that decides its outcome (JSON-able, so a task can pass it on)."""
    duration: float
    volume: int
    roll: float


def plan_run(job: Job, rng: random.Random) -> RunPlan:
    return RunPlan(max(2.0, rng.gauss(job.seconds, job.seconds * 0.25)),
                   max(0, int(rng.gauss(job.volume, job.volume * 0.3))), rng.random())


def simulate_run(db, job: Job, rng: random.Random, clock, advance, api: DemoApi | None = None) -> None:
    """One sync of ``job`` through the recorder; ``advance(seconds)`` lets time pass."""
    plan = plan_run(job, rng)
    api = api or DemoApi()
    try:
        with record_sync(job.crm, job.sync_type, endpoint=job.endpoint, db=db, clock=clock,
                         configuration=RUN_CONFIGURATION) as run:
            _play(run, job, plan, rng, clock, advance, api, api.breaker(job, clock))
    except tuple(_ERRORS.values()):
        pass  # recorded as failed by record_sync; a real task would log and retry


RUN_CONFIGURATION = {"batch_size": 100, "full_sync": False}


def _play(run, job: Job, plan: RunPlan, rng: random.Random, clock, advance, api: DemoApi,
          breaker: CircuitBreaker) -> None:
    """The run's pages, counts and outcome, inside its recorder block (raises the job's error)."""
    with ContextThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-fetch") as pool:
        steps = max(1, min(5, int(plan.duration // 5)))
        processed, volume = 0, plan.volume
        for _ in range(steps):
            advance(plan.duration / steps)
            # each page is fetched on the pool's thread, as a sync fetching pages in parallel
            # would; the pool carries the run's context, so the call names this run
            pool.submit(_fetch_page, api, breaker, job, clock, rng).result()
            created = int(volume / steps * 0.3)
            run.add(processed=volume // steps, created=created, updated=volume // steps - created)
            processed += volume // steps
    if plan.roll < job.failure_rate:
        kind, message = rng.choice(job.errors).split("|", 1)
        status, error = _api_failure(f"{kind}: {message}")
        if status != 200:
            # the sync's retries, each through the breaker (it opens at 3 failures in a row): a
            # timeout is retried three times and opens it now and then; other errors twice
            for _attempt in range(3 if status is None else 2):
                with contextlib.suppress(CircuitOpenError, ConnectionError), breaker:
                    api.call(job, clock, rng, status, error)
                    raise ConnectionError(error)
        raise _ERRORS[kind](message)
    if plan.roll < job.failure_rate * 2 and processed:
        rejected = max(1, processed // 50)  # of the records this run processed: the counts add up
        run.add(failed=rejected)
        run.mark_partial(f"{rejected} of {processed} records rejected: missing required field 'email'")


def live_scale(job: Job) -> float:
    """A live run lasts its usual time, up to a third of its interval (so it ends before it is due again)."""
    return min(1.0, job.live_minutes * 60 / 3 / job.seconds)


def job_named(crm: str, sync_type: str) -> Job | None:
    return next((job for job in JOBS if job.crm == crm and job.sync_type == sync_type), None)


def start_live_run(db, job: Job, rng: random.Random) -> tuple[int, datetime, RunPlan]:
    """The first half of a live run split in two (Celery's ``sync_monitor.demo_run``): its
    ``running`` row now; returns its id, its start and its plan, whose scaled duration later
    ``finish_live_run`` ends it. Nothing waits in between."""
    plan = plan_run(job, rng)
    plan = RunPlan(plan.duration * live_scale(job), plan.volume, plan.roll)
    run = start_sync(job.crm, job.sync_type, endpoint=job.endpoint, db=db, configuration=RUN_CONFIGURATION)
    assert run.id is not None and run.started_at is not None
    return run.id, run.started_at, plan


def finish_live_run(db, job: Job, run_id: int, started_at: datetime, plan: RunPlan, rng: random.Random,
                    api: DemoApi) -> None:
    """The second half: the pages it fetched, at the times they were due since its start, its
    counts and its outcome; the row closed now (when its duration has passed)."""
    pages = SimClock(started_at)

    def advance(seconds: float) -> None:
        pages.now = min(pages.now + timedelta(seconds=seconds), utc_now())

    try:
        with resume_sync(run_id, started_at, db=db) as run:
            _play(run, job, plan, rng, pages, advance, api, api.breaker(job, utc_now))
    except tuple(_ERRORS.values()):
        pass  # recorded as failed, as simulate_run's


def backfill(engine: Engine, until: datetime | None = None, seed: int = 7, report=None,
             history: timedelta = HISTORY) -> int:
    """Record the runs the schedules would have made since the last one (30 days when empty), a
    day per transaction, calling ``report(days_done, days)`` after each.

    Returns the number of runs written. Idempotent: a second call soon after adds almost none.
    """
    until = until or utc_now()
    with engine.begin() as conn:
        metadata.create_all(conn)
        last = demo_data.latest_start(conn)
    last_utc = to_utc_value(engine, last)
    since = max(last_utc + timedelta(minutes=1), until - history) if last_utc else until - history
    rng = random.Random(f"{seed}:{since.isoformat()}")
    starts = sorted(
        (start, index)
        for index, job in enumerate(JOBS)
        for start in _occurrences(job, since, until - timedelta(minutes=1), rng, until)
    )
    clock = SimClock(since)
    api = DemoApi()
    days = max(1, (until - since).days + (1 if (until - since) % timedelta(days=1) else 0))
    by_day: dict[int, list[tuple[datetime, int]]] = {}
    for start, index in starts:
        by_day.setdefault(min((start - since).days, days - 1), []).append((start, index))
    for day in range(days):
        with engine.begin() as conn:  # a day per transaction: the pages fill as it goes
            for start, index in by_day.get(day, []):
                clock.now = start

                def advance(seconds: float) -> None:
                    clock.now += timedelta(seconds=seconds)

                simulate_run(conn, JOBS[index], rng, clock, advance, api)
        if report:
            report(day + 1, days)
    with engine.begin() as conn:
        _write_schedules(conn, until, rng)
    crm_call_writer().flush()
    log.info("demo backfill wrote %d runs from %s to %s", len(starts), since, until)
    return len(starts)


def to_utc_value(engine: Engine, value: object) -> datetime | None:
    converted = to_utc(pd.Series([value]), data_zone(engine))[0]
    return None if pd.isna(converted) else converted.to_pydatetime()


def _occurrences(job: Job, since: datetime, until: datetime, rng: random.Random, now: datetime | None = None):
    """When ``job`` ran in [since, until]: its crontab; else every ``every_minutes`` before
    LIVE_HISTORY and every ``live_minutes`` since (LATE_CRM: until LATE_STOPPED before ``now``)."""
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    if job.crontab:
        hours = [int(h) for h in job.crontab[1].split(",")]
        day = since.replace(hour=0, minute=0, second=0, microsecond=0)
        while day <= until:
            for hour in hours:
                moment = day.replace(hour=hour, minute=int(job.crontab[0]))
                if since <= moment <= until:
                    yield moment + timedelta(seconds=rng.uniform(0, 20))
            day += timedelta(days=1)
        return
    live_from = (now or until) - LIVE_HISTORY
    step = timedelta(minutes=job.every_minutes)
    moment = epoch + ((since - epoch) // step + 1) * step
    while moment <= min(until, live_from):
        yield moment + timedelta(seconds=rng.uniform(0, 90))
        moment += step
    live = timedelta(minutes=job.live_minutes)
    moment = max(moment, live_from, since)
    stop = min(until, (now or until) - LATE_STOPPED) if job.crm == LATE_CRM else until
    while moment <= stop:
        yield moment + timedelta(seconds=rng.uniform(0, 10))
        moment += live


def _write_schedules(conn, now: datetime, rng: random.Random | None = None) -> None:
    """One schedule per job at its live interval (``every`` minutes; the crontab one as it is),
    ``last_run`` its latest run, half of them with a stored next_run; and a disabled legacy
    schedule whose nearer next_run must not count."""
    rng = rng or random.Random(0)
    demo_data.delete_schedules(conn)
    latest = {(crm, kind): to_utc(pd.Series([moment]), data_zone(conn))[0]
              for crm, kind, moment in demo_data.latest_starts(conn)}
    for index, job in enumerate(JOBS):
        last = latest.get((job.crm, job.sync_type))
        last = last.to_pydatetime() if last is not None and not pd.isna(last) else \
            now - timedelta(minutes=rng.uniform(0, job.live_minutes))
        row = {
            "name": f"{job.crm}-{job.sync_type}", "crm_source": job.crm, "model_name": job.sync_type,
            "mode": "delta", "enabled": True, "last_run": bind_time(conn, last),
        }
        if job.crontab:
            row.update(recurrence_type="crontab", crontab_minute=job.crontab[0], crontab_hour=job.crontab[1])
        else:
            row.update(recurrence_type="interval", every=job.live_minutes, period="minutes")
            if index % 2 == 0:  # the others leave next_run NULL, to be derived from last_run
                row["next_run"] = bind_time(conn, last + timedelta(minutes=job.live_minutes))
        demo_data.add_schedule(conn, row)
    demo_data.add_schedule(conn, {
        "name": "hubspot-contacts-legacy", "crm_source": "hubspot", "model_name": "contacts", "mode": "full",
        "recurrence_type": "interval", "every": 5, "period": "minutes", "enabled": False,
        "next_run": bind_time(conn, now + timedelta(minutes=1)),
    })


def due_jobs(engine: Engine, now: datetime, jobs: list[Job] | tuple[Job, ...] = JOBS) -> list[Job]:
    """The jobs whose schedule row says they are due at ``now``: an interval one when ``last_run``
    + ``every`` minutes has passed, the crontab one when its next firing after ``last_run`` has
    passed; never LATE_CRM, whose worker has stopped."""
    from croniter import croniter

    rows = demo_data.enabled_schedules(engine)
    zone = data_zone(engine)
    by_pair = {(r.crm_source, r.model_name): r for r in rows}
    due = []
    for job in jobs:
        if job.crm == LATE_CRM:
            continue
        row = by_pair.get((job.crm, job.sync_type))
        if row is None or row.last_run is None:
            due.append(job)
            continue
        last = to_utc(pd.Series([row.last_run]), zone)[0].to_pydatetime()
        if row.recurrence_type == "crontab":
            upcoming = croniter(f"{row.crontab_minute} {row.crontab_hour} * * *", last).get_next(datetime)
        else:
            upcoming = last + timedelta(minutes=row.every or job.live_minutes)
        if upcoming <= now:
            due.append(job)
    return due


def mark_started(engine: Engine, job: Job, at: datetime) -> None:
    """The schedule row of ``job`` fired at ``at``: ``last_run``, and ``next_run`` where it is kept."""
    demo_data.mark_started(engine, job.crm, job.sync_type, at,
                           None if job.crontab else at + timedelta(minutes=job.live_minutes))


class LiveSimulator:
    """Starts a simulated sync every ``interval`` seconds while the app serves.

    Only one process per demo file runs it (a file lock), so several gunicorn workers do not
    multiply the runs.
    """

    def __init__(self, engine: Engine, lock_path: Path, interval: float, max_running: int = 3,
                 stopped: tuple[str, ...] = ()) -> None:
        self.engine = engine
        self.jobs = [job for job in JOBS if job.crm not in stopped] or list(JOBS)  # DEMO_STOPPED_CRMS
        self.lock_path = lock_path
        self.interval = interval
        self.max_running = max_running
        self._stop = threading.Event()
        self._rng = random.Random()
        self._api = DemoApi()
        self._running: list[threading.Thread] = []

    def start(self) -> bool:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.lock_path, "w")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        # Holding the lock, this is the only simulator alive: any run still open was left by a
        # previous process that stopped, so close it as a worker would at start.
        close_abandoned(self.engine, started_before=utc_now(),
                        reason="WorkerLost: the demo process stopped while this run was open")
        threading.Thread(target=self._loop, name="demo-simulator", daemon=True).start()
        return True

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        """Each tick: start every job its schedule row says is due and is not still running."""
        running: dict[str, threading.Thread] = {}
        while not self._stop.wait(self.interval):
            try:
                due = due_jobs(self.engine, utc_now(), self.jobs)
            except Exception:  # noqa: BLE001 - the demo keeps going; the next tick tries again
                log.exception("demo schedules could not be read")
                continue
            for job in due:
                key = job.crm + "/" + job.sync_type
                if key in running and running[key].is_alive():
                    continue
                mark_started(self.engine, job, utc_now())
                running[key] = threading.Thread(target=self._run, args=(job,), daemon=True)
                running[key].start()

    def _run(self, job: Job) -> None:
        scale = live_scale(job)
        try:
            simulate_run(self.engine, job, self._rng, utc_now,
                         lambda seconds: self._stop.wait(seconds * scale), self._api)
        except Exception:
            log.exception("demo run of %s %s failed to record", job.crm, job.sync_type)
