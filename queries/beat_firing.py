"""When django-celery-beat sends a task: beat's own rule, through celery's own schedule classes.

No SQL and no Django. This follows django-celery-beat 2.9's ``ModelEntry`` (``schedulers.py``)
and the model schedules it builds (``models.py``, ``tzcrontab.py``, ``clockedschedule.py``):

- a task that never ran (``last_run_at`` NULL) counts from its ``date_changed``, or from thirty
  years before it when it has a ``start_time`` (so that it runs at its start);
- it is never sent before ``start_time``, nor once ``expires`` has passed; a disabled task is not
  sent (saving a task disabled clears its ``last_run_at``), nor a ``one_off`` one that has run;
- otherwise it is due once ``last_run_at + remaining_estimate(last_run_at)`` has come:
  ``celery.schedules.schedule`` for an interval, a ``crontab`` read in the crontab row's own
  ``timezone`` (``TzAwareCrontab``: celery's wall-clock arithmetic in that zone, DST included),
  ``celery.schedules.solar`` (``ephem``) at a latitude and longitude, and a clocked task at its
  ``clocked_time``.

Beat looks again every few seconds (``DatabaseScheduler``'s loop), so a task is sent at the first
tick at or after the moment computed here. ``tests/queries/test_beat_firing.py`` compares this with
``ModelEntry(task).is_due()`` itself, on beat's tables made by its own migrations.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from celery import Celery
from celery.schedules import BaseSchedule, ParseException, crontab, schedule, solar

# beat's app as the warehouse configures it: Django's TIME_ZONE is UTC and celery takes it
_APP = Celery("sync-monitor-beat-arithmetic", set_as_current=False)
_APP.conf.timezone = "UTC"
_APP.conf.enable_utc = True

NEVER_RAN_OFFSET = timedelta(days=365 * 30)  # ModelEntry.__init__: "last_run_at should be in way past"
PERIODS = ("days", "hours", "minutes", "seconds", "microseconds")  # IntervalSchedule.PERIOD_CHOICES
SOLAR_EVENTS = frozenset(solar._all_events)
CRON_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


@dataclass(frozen=True)
class BeatTask:
    """One ``django_celery_beat_periodictask`` row with its schedule, as the app reads it."""
    enabled: bool = True
    last_run_at: datetime | None = None
    date_changed: datetime | None = None
    start_time: datetime | None = None
    expires: datetime | None = None
    one_off: bool = False
    total_run_count: int = 0
    kind: str | None = None  # "interval", "crontab", "solar", "clocked"; None: no schedule row
    every: int | None = None
    period: str | None = None
    minute: str | None = None
    hour: str | None = None
    day_of_week: str | None = None
    day_of_month: str | None = None
    month_of_year: str | None = None
    timezone: str | None = None
    clocked_time: datetime | None = None
    event: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    schedule_key: tuple = field(init=False, repr=False, compare=False)  # _build's arguments, in order

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule_key", (
            self.kind, self.every, self.period, self.minute, self.hour, self.day_of_week, self.day_of_month,
            self.month_of_year, self.timezone, self.event, self.latitude, self.longitude))

    @classmethod
    def from_row(cls, row: Mapping, prefix: str = "beat_") -> BeatTask:
        """From a row of ``queries.beat_tasks`` (``prefix`` on every key)."""
        def get(name: str) -> object:
            value = row.get(prefix + name)
            return None if value is None or (isinstance(value, float) and value != value) else value

        kind = next((k for k in ("interval", "crontab", "solar", "clocked") if get(f"{k}_id") is not None), None)
        return cls(
            enabled=_flag(get("enabled"), True), last_run_at=moment(get("last_run_at")),
            date_changed=moment(get("date_changed")), start_time=moment(get("start_time")),
            expires=moment(get("expires")), one_off=_flag(get("one_off"), False),
            total_run_count=_int(get("total_run_count")) or 0, kind=kind,
            every=_int(get("every")), period=_text(get("period")),
            **{name: _text(get(name)) for name in CRON_FIELDS}, timezone=_text(get("timezone")),
            clocked_time=moment(get("clocked_time")), event=_text(get("event")),
            latitude=_float(get("latitude")), longitude=_float(get("longitude")),
        )


@dataclass(frozen=True)
class Firing:
    """``at``: when beat sends the task (aware UTC; at or before ``now`` means beat is due to send
    it at its next tick); None when it will not be sent again, and ``note`` says why."""
    at: datetime | None
    note: str | None = None
    broken: bool = False  # no time because the schedule cannot be read or computed (not a stop)


class _ZonedCrontab(crontab):
    """django-celery-beat's ``TzAwareCrontab``: celery's crontab whose arithmetic runs in ``tz``."""

    def __init__(self, tz: ZoneInfo, **fields: str):
        self.tz = tz  # shadows BaseSchedule.tz (the app's zone), as TzAwareCrontab does
        super().__init__(**fields, app=_APP)


def describe(task: BeatTask) -> str:
    """The schedule in words, for notes: "every 5 minutes", "crontab 0 9 13 * 5 (Europe/London)"."""
    if task.kind == "interval":
        return f"every {task.every} {task.period}"
    if task.kind == "crontab":
        fields = " ".join(str(getattr(task, f) or "*") for f in ("minute", "hour", "day_of_month", "month_of_year",
                                                               "day_of_week"))
        return f"crontab {fields} ({task.timezone or 'UTC'})"
    if task.kind == "clocked":
        return f"once at {iso(task.clocked_time)}"
    if task.kind == "solar":
        return f"{task.event} at {task.latitude}, {task.longitude}"
    return "no schedule"


def stopped(task: BeatTask, now: datetime) -> str | None:
    """Why beat will not send the task again, or None."""
    if not task.enabled:
        if task.one_off:
            return "a one-off beat task, disabled (beat disables one that has run)"
        return "its beat task is disabled"
    if task.expires is not None and now >= task.expires:
        return f"its beat task expired at {iso(task.expires)}"
    if task.one_off and task.total_run_count > 0:
        return "a one-off beat task that already ran"
    return None


def next_firing(task: BeatTask, now: datetime) -> Firing:
    """When beat sends the task next, as of ``now`` (aware)."""
    why = stopped(task, now)
    if why:
        return Firing(None, why)
    if task.kind is None:
        return Firing(None, "its beat task has no schedule", broken=True)
    last = task.last_run_at
    if last is None:
        last = task.date_changed or now
        if task.start_time is not None:
            last = last - NEVER_RAN_OFFSET
    return _bounded(task, _due(task, last), now)


def firing_after(task: BeatTask, moment_: datetime, now: datetime) -> Firing:
    """The first firing due after a send at ``moment_`` (beat's arithmetic with ``last_run_at``
    there): when the run after one that started then was due."""
    why = stopped(task, now)
    if why:
        return Firing(None, why)
    if task.kind is None:
        return Firing(None, "its beat task has no schedule", broken=True)
    return _bounded(task, _due(task, moment_), now)


def _bounded(task: BeatTask, due: datetime | str, now: datetime) -> Firing:
    if isinstance(due, str):
        return Firing(None, due, broken=True)
    if task.start_time is not None and due < task.start_time:
        due = task.start_time  # not due before start_time; at it, the schedule has long been due
    if task.expires is not None and due >= task.expires:
        return Firing(None, f"its beat task expires at {iso(task.expires)}, before it is due again")
    return Firing(due, None)


def _due(task: BeatTask, last: datetime) -> datetime | str:
    """``last + remaining_estimate(last)`` for the task's celery schedule, or why it has none: a
    pure function of the schedule and ``last``, remembered (a refresh asks again for most syncs)."""
    return _due_of(task.schedule_key, task.clocked_time, last.astimezone(UTC))


@functools.lru_cache(maxsize=65536)
def _due_of(key: tuple, clocked_time: datetime | None, last: datetime) -> datetime | str:
    task = BeatTask(**dict(zip(_KEY_FIELDS, key, strict=True)), clocked_time=clocked_time)
    if task.kind == "clocked":
        if task.clocked_time is None:
            return "a clocked task without a time"
        return task.clocked_time.astimezone(UTC)
    made = _cached(*key) if task.kind != "solar" else _build(*key)  # solar's cal is mutable: one each
    if isinstance(made, str):
        return made
    if task.kind == "interval":  # celery's remaining() for an interval that is not relative: UTC + seconds
        try:
            return last.astimezone(UTC) + made.run_every
        except OverflowError as exc:
            return f"{describe(task)} cannot be computed: {exc}"
    try:
        # TzAwareCrontab.is_due reads last_run_at in the crontab's zone; ModelEntry.is_due, in the app's (UTC)
        last = last.astimezone(made.tz if task.kind == "crontab" else UTC)
        # remaining_estimate is (last + the schedule's step) - now(); with now() fixed at _EPOCH,
        # adding _EPOCH back gives the moment itself, whatever the time is
        return (_EPOCH + made.remaining_estimate(last)).astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        return f"{describe(task)} cannot be computed: {exc}"


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _epoch() -> datetime:
    return _EPOCH


_KEY_FIELDS = ("kind", "every", "period", *CRON_FIELDS, "timezone", "event", "latitude", "longitude")


def _build(kind: str | None, every: int | None, period: str | None, minute: str | None, hour: str | None,
           day_of_week: str | None, day_of_month: str | None, month_of_year: str | None, timezone: str | None,
           event: str | None, latitude: float | None, longitude: float | None) -> BaseSchedule | str:
    task = BeatTask(kind=kind, every=every, period=period, minute=minute, hour=hour, day_of_week=day_of_week,
                    day_of_month=day_of_month, month_of_year=month_of_year, timezone=timezone, event=event,
                    latitude=latitude, longitude=longitude)
    if kind == "interval":
        if period not in PERIODS or every is None or every <= 0:
            return f"an interval of every={every!r} period={period!r}"
        try:
            return schedule(timedelta(**{period: every}), nowfun=_epoch, app=_APP)
        except OverflowError:
            return f"an interval of every={every!r} period={period!r} is too long"
    if kind == "crontab":
        try:
            zone = ZoneInfo(timezone or "UTC")
        except (ValueError, KeyError, OSError):
            return f"crontab time zone {timezone!r} is not known"
        try:
            made = _ZonedCrontab(zone, **{f: getattr(task, f) or "*" for f in CRON_FIELDS})
        except (ParseException, ValueError, TypeError, IndexError) as exc:
            return f"{describe(task)} cannot be read: {exc}"
        made.nowfun = _epoch
        return made
    if kind == "solar":
        if event not in SOLAR_EVENTS or latitude is None or longitude is None:
            return f"solar event {event!r} at {latitude}, {longitude}"
        try:
            return solar(event, latitude, longitude, nowfun=_epoch, app=_APP)
        except (ValueError, ImportError) as exc:
            return f"{describe(task)}: {exc}"
    return "its beat task has no schedule"


_cached = functools.lru_cache(maxsize=4096)(_build)  # each distinct schedule built once (5,000 tasks share a few)


# -- values as the database gives them ----------------------------------------------------------

def moment(value: object) -> datetime | None:
    """An aware UTC datetime from a driver's or pandas' value (naive means UTC), or None; ±infinity
    (which datetime cannot hold) is None too."""
    if value is None:
        return None
    try:
        if value != value:  # NaT / NaN
            return None
    except (TypeError, ValueError):
        return None
    found = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    if isinstance(found, str):
        try:
            found = datetime.fromisoformat(found)
        except ValueError:
            return None
    if not isinstance(found, datetime):
        return None
    return found.astimezone(UTC) if found.tzinfo else found.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str:
    """``2026-12-05 09:30 UTC`` (four-digit years from year 1 on)."""
    if value is None:
        return "—"
    utc = value.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%d %H:%M} UTC"


def _flag(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true", "yes")
    return bool(value)


def _int(value: object) -> int | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else int(number)


def _float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _text(value: object) -> str | None:
    return None if value is None else str(value)
