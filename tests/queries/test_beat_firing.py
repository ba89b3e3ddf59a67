"""The app's beat arithmetic against django-celery-beat itself.

Beat's tables are made by beat's own migrations in schema ``django`` (tests/support/beat_oracle.py),
its tasks created through beat's ORM. The app reads them with its own SQL (``queries.beat_tasks``,
through the app's engine, whose search path does not include ``django``) and computes
``next_firing``; beat answers with ``ModelEntry(task).is_due()`` under a clock frozen at the same
moment. The oracle (beat ticks every few seconds, and ``is_due``'s second value is when to look
again, not always the firing time):

- the app says never (``at`` None): beat is not due now, nor an hour, a day or 400 days later;
- the app says due (``at`` <= now): beat is due now;
- the app says ``at`` later: beat is not due now, is due at ``at`` and not a second before; and
  where beat's second value is the time to the firing (no future ``start_time``), it is ``at - now``.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from dashapp.storage.db import postgres_engine, psycopg2_url
from queries import table_shape
from queries.beat_firing import BeatTask, describe, next_firing
from queries.beat_tasks import beat_tasks
from queries.table_shape import BEAT_TABLES, shape
from tests.queries.conftest import owner_sql

S, M, H, D = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
NOW = datetime(2027, 3, 27, 10, 0, tzinfo=UTC)  # a Saturday, the day before Europe springs forward
NEVER_CHECK_TIMEOUT = 100000000  # django_celery_beat.utils: "don't recheck"
LATER = (H, D, 400 * D)


# -- app against library ---------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    at: datetime | None  # the app's answer
    note: str | None
    due: bool  # beat's is_due() at now
    next_seconds: float  # and its second value
    schedule: str


def app_task(engine: Engine, task_id: int) -> BeatTask:
    rows = {int(row["beat_id"]): row for row in beat_tasks(engine)}
    return BeatTask.from_row(rows[task_id])


def compare(oracle, engine: Engine, task_id: int, now: datetime) -> Outcome:
    """The app's ``next_firing`` for the task, as read through its SQL, checked against beat."""
    task = app_task(engine, task_id)
    firing = next_firing(task, now)
    at = firing.at
    due, next_seconds = oracle.beat_due(task_id, now)
    said = (f"{describe(task)}, now {now.isoformat()}: app says {at.isoformat() if at else None} "
            f"({firing.note}); beat's is_due() says ({due}, {next_seconds})")
    if at is None:
        assert not due, said
        for later in LATER:
            assert not oracle.beat_due(task_id, now + later)[0], f"{said}; but beat is due at now + {later}"
    elif at <= now:
        assert due, said
    else:
        assert not due, said
        assert oracle.beat_due(task_id, at)[0], f"{said}; but beat is not due at {at.isoformat()}"
        if at - S >= now:
            assert not oracle.beat_due(task_id, at - S)[0], f"{said}; but beat is due a second before"
        started = task.start_time is None or task.start_time <= now
        if started and task.enabled and math.isfinite(next_seconds) and next_seconds < NEVER_CHECK_TIMEOUT:
            delta = abs((now + timedelta(seconds=next_seconds) - at).total_seconds())
            assert delta <= 1, f"{said}; beat's next is {delta} s away from the app's"
    return Outcome(at, firing.note, due, next_seconds, describe(task))


def table_line(case_id: str, found: Outcome, now: datetime) -> str:
    """One line of the report's "schedule kind | library | app" table."""
    if found.due:
        library = "due now"
    elif math.isinf(found.next_seconds) or found.next_seconds >= NEVER_CHECK_TIMEOUT:
        library = "not due, never rechecked"
    else:
        library = f"not due, look again in {found.next_seconds:g} s"
    app = (f"{found.at:%Y-%m-%d %H:%M:%S} UTC" + (" (due)" if found.at <= now else "")
           if found.at else f"None: {found.note}")
    return f"| {case_id} | {library} | {app} |"


# -- named cases ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    make: Callable  # (oracle, now) -> task id
    now: datetime = NOW
    at: datetime | None | str = "any"  # what the app must say, where the case fixes it ("any": the oracle alone)


LONDON, TROMSO = (51.5074, -0.1278), (69.6492, 18.9553)
MIDSUMMER = datetime(2027, 6, 21, 10, 0, tzinfo=UTC)
SOLAR_EVENTS = ("sunrise", "sunset", "dawn_astronomical", "dawn_nautical", "dawn_civil", "dusk_astronomical",
                "dusk_nautical", "dusk_civil", "solar_noon")


def _interval(every, period, **task):
    return lambda o, now: o.task(o.interval(every, period), **{"date_changed": now - 2 * D, **task})


def _cron(*fields, zone="UTC", **task):
    return lambda o, now: o.task(o.crontab(*fields, timezone=zone), **{"date_changed": now - 2 * D, **task})


def _solar(event, place):
    return lambda o, now: o.task(o.solar(event, *place), date_changed=now - 2 * D, last_run_at=now - M)


CASES = [
    Case("interval 30 seconds", _interval(30, "seconds", last_run_at=NOW - 10 * S), at=NOW + 20 * S),
    Case("interval 5 minutes", _interval(5, "minutes", last_run_at=NOW - 2 * M), at=NOW + 3 * M),
    Case("interval 6 hours", _interval(6, "hours", last_run_at=NOW - 2 * H), at=NOW + 4 * H),
    Case("interval 1 day", _interval(1, "days", last_run_at=NOW - 20 * H), at=NOW + 4 * H),
    Case("interval overdue", _interval(1, "hours", last_run_at=NOW - 3 * H), at=NOW - 2 * H),
    Case("interval never run (from date_changed)",
         _interval(15, "minutes", date_changed=NOW - 7 * M), at=NOW + 8 * M),
    Case("crontab never run, created 3 h ago", _cron("0", "9", date_changed=NOW - 3 * H),
         at=datetime(2027, 3, 27, 9, 0, tzinfo=UTC)),
    Case("crontab 0 9 * * * Europe/London",
         _cron("0", "9", zone="Europe/London", last_run_at=datetime(2027, 3, 27, 9, 0, tzinfo=UTC)),
         at=datetime(2027, 3, 28, 8, 0, tzinfo=UTC)),  # 09:00 BST: London springs forward that night
    Case("crontab 0 9 * * * America/New_York",
         _cron("0", "9", zone="America/New_York", last_run_at=datetime(2027, 3, 26, 13, 0, tzinfo=UTC)),
         at=datetime(2027, 3, 27, 13, 0, tzinfo=UTC)),
    Case("crontab 0 9 * * * Asia/Kolkata",
         _cron("0", "9", zone="Asia/Kolkata", last_run_at=datetime(2027, 3, 27, 3, 30, tzinfo=UTC)),
         at=datetime(2027, 3, 28, 3, 30, tzinfo=UTC)),
    Case("crontab 0 9 13 * 5 (Friday the 13th)",
         _cron("0", "9", "13", "*", "5", last_run_at=datetime(2026, 11, 13, 9, 0, tzinfo=UTC)),
         at=datetime(2027, 8, 13, 9, 0, tzinfo=UTC)),  # not the 13th of Dec..Jul, nor Fridays: both
    Case("crontab 30 1 * * * Europe/London, spring forward 2027-03-28",
         _cron("30", "1", zone="Europe/London", last_run_at=datetime(2027, 3, 27, 1, 30, tzinfo=UTC)),
         now=datetime(2027, 3, 28, 0, 15, tzinfo=UTC)),
    Case("crontab 30 1 * * * Europe/London, fall back 2027-10-31",
         _cron("30", "1", zone="Europe/London", last_run_at=datetime(2027, 10, 30, 0, 30, tzinfo=UTC)),
         now=datetime(2027, 10, 31, 0, 15, tzinfo=UTC)),
    Case("crontab 30 1 * * * Europe/London, fall back, after the first 01:30",
         _cron("30", "1", zone="Europe/London", last_run_at=datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
         now=datetime(2027, 10, 31, 1, 15, tzinfo=UTC)),
    Case("crontab 0 9 * * 1-5 on a Saturday",
         _cron("0", "9", "*", "*", "1-5", last_run_at=datetime(2027, 3, 26, 9, 0, tzinfo=UTC)),
         at=datetime(2027, 3, 29, 9, 0, tzinfo=UTC)),
    Case("start_time future, interval never run", _interval(10, "minutes", start_time=NOW + 2 * H),
         at=NOW + 2 * H),
    Case("start_time future, interval ran", _interval(10, "minutes", last_run_at=NOW - 5 * M, start_time=NOW + H),
         at=NOW + H),
    Case("start_time future, crontab never run", _cron("0", "9", start_time=NOW + 2 * D + 3 * H),
         # at start_time, not the first 09:00 after it (where is_due's "look again" points): counted from 30
         # years back, it has long been due; beat's heap re-checks it at its next full sync (<= 5 min later)
         at=NOW + 2 * D + 3 * H),
    Case("start_time future, crontab ran, next after start",
         _cron("0", "9", last_run_at=datetime(2027, 3, 27, 9, 0, tzinfo=UTC), start_time=NOW + H),
         at=datetime(2027, 3, 28, 9, 0, tzinfo=UTC)),
    Case("start_time past, never run", _interval(30, "minutes", start_time=NOW - D), at="due"),
    Case("expires past", _interval(5, "minutes", last_run_at=NOW - 2 * M, expires=NOW - H), at=None),
    Case("expires before next firing", _interval(1, "hours", last_run_at=NOW - 10 * M, expires=NOW + 20 * M),
         at=None),
    Case("expires after next firing", _interval(1, "hours", last_run_at=NOW - 10 * M, expires=NOW + 2 * H),
         at=NOW + 50 * M),
    Case("one_off that ran", _interval(1, "hours", one_off=True, total_run_count=1, last_run_at=NOW - 2 * H),
         at=None),
    Case("one_off not run yet", _interval(1, "hours", one_off=True, date_changed=NOW - 10 * M), at=NOW + 50 * M),
    Case("one_off disabled", _interval(1, "hours", one_off=True, enabled=False), at=None),
    Case("disabled", _interval(5, "minutes", enabled=False, last_run_at=NOW - 2 * M), at=None),
    Case("clocked future", lambda o, now: o.task(o.clocked(now + 3 * H), one_off=True, date_changed=now - D),
         at=NOW + 3 * H),
    Case("clocked past", lambda o, now: o.task(o.clocked(now - 3 * H), one_off=True, date_changed=now - D),
         at=NOW - 3 * H),
    Case("clocked that ran", lambda o, now: o.task(o.clocked(now - 3 * H), one_off=True, total_run_count=1,
                                                   last_run_at=now - 3 * H, date_changed=now - D), at=None),
    *[Case(f"solar {event} London 2027-06-21", _solar(event, LONDON), now=MIDSUMMER) for event in SOLAR_EVENTS],
    *[Case(f"solar {event} Tromso 2027-06-21", _solar(event, TROMSO), now=MIDSUMMER) for event in SOLAR_EVENTS],
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_named_case_agrees_with_beat(beat, app_engine, zoned_engine, case: Case):
    task_id = case.make(beat, case.now)
    found = compare(beat, app_engine, task_id, case.now)
    assert app_task(zoned_engine, task_id) == app_task(app_engine, task_id)
    print(table_line(case.id, found, case.now))  # the report's table (pytest -s)
    if case.at == "due":
        assert found.at is not None and found.at <= case.now
    elif case.at != "any":
        assert found.at == case.at


def test_solar_events_that_do_not_happen_at_midsummer_in_tromso_come_weeks_later(beat, app_engine):
    """Midnight sun: no sunset (nor dusk, nor dawn) for weeks; celery looks for the next one."""
    for event in ("sunset", "dusk_civil", "dawn_astronomical"):
        task_id = _solar(event, TROMSO)(beat, MIDSUMMER)
        found = compare(beat, app_engine, task_id, MIDSUMMER)
        assert found.at is not None and found.at - MIDSUMMER > 20 * D, (event, found)
    task_id = _solar("solar_noon", TROMSO)(beat, MIDSUMMER)
    found = compare(beat, app_engine, task_id, MIDSUMMER)
    assert found.at is not None and found.at - MIDSUMMER < D


# -- generated tasks -------------------------------------------------------------------------

ZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Sydney",
         "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata")
DST_CHANGES = tuple(datetime.fromisoformat(t) for t in (
    "2027-03-28T01:00:00+00:00", "2027-10-31T01:00:00+00:00",  # Europe
    "2027-03-14T07:00:00+00:00", "2027-11-07T06:00:00+00:00",  # United States (Eastern)
    "2027-04-03T16:00:00+00:00", "2027-10-02T16:00:00+00:00",  # Sydney
    "2027-04-03T15:00:00+00:00", "2027-10-02T15:30:00+00:00",  # Lord Howe (half an hour)
))
BOUNDS = {"minute": (0, 59), "hour": (0, 23), "day_of_week": (0, 6), "day_of_month": (1, 31),
          "month_of_year": (1, 12)}


@st.composite
def cron_field(draw, low: int, high: int) -> str:
    """A celery crontab spec within [low, high]: *, n, a-b (b < a wraps around), */s, a-b/s, or a
    list of those."""
    def number():
        return st.integers(low, high).map(str)

    def span():
        return st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda p: f"{p[0]}-{p[1]}")

    def stepped():
        return st.tuples(span(), st.integers(1, max(1, high - low))).map(lambda p: f"{p[0]}/{p[1]}")

    return draw(st.one_of(
        st.just("*"),
        number(),
        span(),
        st.integers(1, max(1, (high - low) // 2 + 1)).map(lambda s: f"*/{s}"),
        stepped(),
        st.lists(st.one_of(number(), span(), stepped()), min_size=2, max_size=3).map(",".join),
    ))


WEEKDAY_NAMES = ("mon-fri", "sat,sun", "fri", "tue-thu")  # celery reads day names too

moments = st.one_of(
    st.integers(0, 3 * 365 * 86400).map(lambda s: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=s)),
    st.tuples(st.sampled_from(DST_CHANGES), st.integers(-2 * 86400, 2 * 86400)).map(
        lambda p: p[0] + timedelta(seconds=p[1])),
)
offsets = st.one_of(st.integers(-3600, 3600), st.integers(0, 86400), st.integers(0, 60 * 86400)).map(
    lambda s: timedelta(seconds=s))


def sometimes(strategy):
    """``strategy`` or None, about half the time each."""
    return st.one_of(st.none(), strategy)


@st.composite
def task_specs(draw) -> dict:
    kind = draw(st.sampled_from(("interval", "interval", "crontab", "crontab", "crontab", "clocked", "solar")))
    now = draw(moments) + timedelta(microseconds=draw(st.integers(0, 999999)))
    spec: dict = {"kind": kind, "now": now, "date_changed": now - draw(offsets)}
    if kind == "interval":
        spec["period"] = draw(st.sampled_from(("days", "hours", "minutes", "seconds", "microseconds")))
        spec["every"] = draw(st.integers(1, 10**8 if spec["period"] == "microseconds" else 120))
    elif kind == "crontab":
        spec["fields"] = {name: draw(cron_field(low, high)) for name, (low, high) in BOUNDS.items()}
        if draw(st.integers(0, 5)) == 0:
            spec["fields"]["day_of_week"] = draw(st.sampled_from(WEEKDAY_NAMES))
        spec["zone"] = draw(st.sampled_from(ZONES))
    elif kind == "clocked":
        spec["clocked_time"] = now + draw(st.sampled_from((1, -1))) * draw(offsets)
    else:
        spec["event"] = draw(st.sampled_from(SOLAR_EVENTS))
        spec["place"] = draw(st.sampled_from((LONDON, TROMSO, (-33.87, 151.21), (0.0, 0.0))))
    ran = draw(st.booleans())
    spec["last_run_at"] = now - draw(offsets) - timedelta(microseconds=draw(st.integers(0, 999999))) if ran else None
    spec["one_off"] = kind == "clocked" or draw(st.integers(0, 4)) == 0  # beat requires a clocked one to be one-off
    spec["total_run_count"] = draw(st.integers(1, 5)) if ran and draw(st.integers(0, 3)) == 0 else 0
    spec["start_time"] = draw(sometimes(st.integers(-30 * 86400, 30 * 86400).map(lambda s: now + timedelta(seconds=s))))
    spec["expires"] = draw(sometimes(st.integers(-5 * 86400, 90 * 86400).map(lambda s: now + timedelta(seconds=s))))
    spec["enabled"] = draw(st.sampled_from((True, True, True, True, False)))  # mostly enabled
    return spec


def make_spec(oracle, spec: dict) -> int:
    if spec["kind"] == "interval":
        schedule = oracle.interval(spec["every"], spec["period"])
    elif spec["kind"] == "crontab":
        fields = spec["fields"]
        schedule = oracle.crontab(fields["minute"], fields["hour"], fields["day_of_month"], fields["month_of_year"],
                                  fields["day_of_week"], timezone=spec["zone"])
    elif spec["kind"] == "clocked":
        schedule = oracle.clocked(spec["clocked_time"])
    else:
        schedule = oracle.solar(spec["event"], *spec["place"])
    return oracle.task(schedule, date_changed=spec["date_changed"], last_run_at=spec["last_run_at"],
                       start_time=spec["start_time"], expires=spec["expires"], one_off=spec["one_off"],
                       enabled=spec["enabled"], total_run_count=spec["total_run_count"])


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.slow
@given(spec=task_specs())
def test_generated_tasks_agree_with_beat(oracle, app_engine, spec: dict):
    oracle.clear()
    task_id = make_spec(oracle, spec)
    compare(oracle, app_engine, task_id, spec["now"])


# -- where the app finds beat's tables --------------------------------------------------------

def test_beat_tables_off_the_app_search_path_are_found(beat, app_engine):
    task_id = beat.task(beat.interval(5, "minutes"), date_changed=NOW - D, last_run_at=NOW - 2 * M)
    with app_engine.connect() as conn:
        assert "django" not in conn.execute(text("SELECT current_schemas(false)")).scalar_one()
    found = shape(app_engine)
    assert found.beat_schema == "django" and found.beat_problem is None
    assert "'django'" in found.beat_note and "off the search path" in found.beat_note
    assert [int(row["beat_id"]) for row in beat_tasks(app_engine)] == [task_id]


def test_beat_schema_override(beat, oracle):
    beat.task(beat.interval(5, "minutes"), date_changed=NOW - D)
    engine = postgres_engine(oracle.url, "orchestration", beat_schema="django")
    try:
        found = shape(engine)
        assert found.beat_schema == "django" and "set by BEAT_SCHEMA" in found.beat_note
        assert len(beat_tasks(engine)) == 1
    finally:
        engine.dispose()
    engine = postgres_engine(oracle.url, "orchestration", beat_schema="nowhere")
    try:
        found = shape(engine)
        assert found.beat_schema is None and "'nowhere'" in found.beat_note
        assert beat_tasks(engine) == []
    finally:
        engine.dispose()


def test_of_two_copies_the_one_whose_tasks_ran_last(beat, oracle, app_engine):
    # a copy named before "django", with no runs: choosing by name would take it
    beat.task(beat.interval(5, "minutes"), date_changed=NOW - D, last_run_at=NOW - 2 * M)
    copy = "beat_archive"
    owner_sql(oracle.url, f"CREATE SCHEMA {copy}",
              *(f"CREATE TABLE {copy}.{t} (LIKE django.{t} INCLUDING ALL)" for t in BEAT_TABLES))
    try:
        found = shape(app_engine)
        assert found.beat_schema == "django", found.beat_note
        assert "ran last" in found.beat_note and f"'{copy}'" in found.beat_note, found.beat_note
        # the copy's tasks ran later: it is the one now
        owner_sql(oracle.url, f"""INSERT INTO {copy}.django_celery_beat_periodictask
            (name, task, args, kwargs, enabled, last_run_at, total_run_count, date_changed, description, one_off,
             headers) VALUES ('archived', 'sync.run', '[]', '{{}}', true, '{(NOW + D).isoformat()}', 1,
             '{NOW.isoformat()}', '', false, '{{}}')""")
        table_shape.forget(app_engine)
        found = shape(app_engine)
        assert found.beat_schema == copy and "'django'" in found.beat_note, found.beat_note
        # BEAT_SCHEMA wins over both
        pinned = postgres_engine(oracle.url, "orchestration", beat_schema="django")
        try:
            assert shape(pinned).beat_schema == "django"
        finally:
            pinned.dispose()
    finally:
        owner_sql(oracle.url, f"DROP SCHEMA {copy} CASCADE")


def test_a_role_without_select_is_told_the_grant(beat, oracle):
    task_id = beat.task(beat.interval(5, "minutes"), date_changed=NOW - D)
    role = f"beat_reader_{uuid.uuid4().hex[:10]}"
    database = psycopg2_url(oracle.url).database
    owner_sql(oracle.url, f'CREATE ROLE "{role}" LOGIN', f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
              f'GRANT USAGE ON SCHEMA orchestration TO "{role}"')
    engine = postgres_engine(psycopg2_url(oracle.url).set(username=role, password=None).render_as_string(
        hide_password=False), "orchestration")
    try:
        found = shape(engine)
        assert found.beat_schema == "django"
        assert found.beat_problem and "permission denied" in found.beat_problem, found.beat_problem
        grant = re.search(r"GRANT SELECT ON (.*?) TO", found.beat_problem)
        assert grant, found.beat_problem
        for name in BEAT_TABLES:  # the clocked and solar tables too
            assert f'"django".{name}' in grant.group(1), (name, found.beat_problem)
        assert beat_tasks(engine) == []  # told, not an error
        statements = found.beat_problem.split("run ", 1)[1]
        owner_sql(oracle.url, *(s for s in statements.split(";") if s.strip()))
        table_shape.forget(engine)
        found = shape(engine)
        assert found.beat_schema == "django" and found.beat_problem is None, found.beat_problem
        assert [int(row["beat_id"]) for row in beat_tasks(engine)] == [task_id]
    finally:
        engine.dispose()
        owner_sql(oracle.url, f'DROP OWNED BY "{role}"', f'DROP ROLE "{role}"')
