"""When a schedule fires next, and how often: pure date arithmetic over one row of
``queries.schedules``, no SQL.

Three sources, best first, and every answer says which it used:
- ``beat``: the row's django-celery-beat task, by beat's own rule: the next occurrence of its
  interval, or of its crontab read in the crontab's own ``timezone``, after ``last_run_at``; not
  before ``start_time``; none past ``expires``, none for a disabled task or a one-off that ran.
  A time in the past means beat is due to fire it at its next tick.
- ``schedule``: the schedule row's own fields: a stored ``next_run`` still ahead, else the
  interval stepped on from ``next_run`` or ``last_run`` past now, or the crontab (UTC, Django's
  ``TIME_ZONE``) after now.
- ``estimated``: an interval schedule that has no time of its own: the latest run of what it
  syncs plus whole intervals, past now.
The schedule row's ``start_at`` and ``end_at`` bound all three.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

PERIODS = {
    "microseconds": timedelta(microseconds=1),
    "seconds": timedelta(seconds=1),
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
    "weeks": timedelta(weeks=1),
}
CRON_ORDER = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")  # croniter's order


@dataclass(frozen=True)
class NextSync:
    at: datetime | None  # aware UTC, or None
    source: str | None  # "beat", "schedule", "estimated"; None when there is no next run
    note: str | None = None  # why there is none

    @staticmethod
    def none(why: str) -> NextSync:
        return NextSync(None, None, why)


def next_sync(row: Mapping, now: datetime, latest_start: datetime | None = None) -> NextSync:
    """The next run of one schedule row (``now`` aware UTC; ``latest_start``: the latest run of
    what the schedule syncs, for the estimate)."""
    if row.get("enabled") is not None and _flag(row.get("enabled")) is False:
        return NextSync.none("schedule disabled")
    found = _beat(row, now) if _flag(row.get("beat_found")) else _own(row, now, latest_start)
    return _bounded(row, found)


def interval(row: Mapping, now: datetime) -> timedelta | None:
    """How often the schedule fires (beat's interval or crontab when it has a task, else its
    own fields); None when it will not fire again or cannot be told."""
    if row.get("enabled") is not None and _flag(row.get("enabled")) is False:
        return None
    if _flag(row.get("beat_found")):
        if _beat_stopped(row, now) is not None:
            return None
        step = _step(row.get("beat_every"), row.get("beat_period"))
        if step is not None:
            return step
        return _cron_gap(_cron(row, "beat_"), _zone(row.get("beat_timezone")), now)
    kind = (row.get("recurrence_type") or "").strip().lower()
    if kind == "interval":
        return _step(row.get("every"), row.get("period"))
    if kind == "crontab":
        return _cron_gap(_cron(row, ""), UTC, now)
    return None


# -- beat -----------------------------------------------------------------------------------------

def _beat_stopped(row: Mapping, now: datetime) -> str | None:
    if _flag(row.get("beat_enabled")) is False:
        return "its beat task is disabled"
    if _flag(row.get("beat_one_off")) and (_count(row.get("beat_total_run_count")) > 0
                                           or _moment(row.get("beat_last_run_at")) is not None):
        return "a one-off beat task that already ran"
    expires = _moment(row.get("beat_expires"))
    if expires is not None and expires <= now:
        return f"its beat task expired at {_iso(expires)}"
    return None


def _beat(row: Mapping, now: datetime) -> NextSync:
    stopped = _beat_stopped(row, now)
    if stopped:
        return NextSync.none(stopped)
    last = _moment(row.get("beat_last_run_at"))
    start = _moment(row.get("beat_start_time"))
    step = _step(row.get("beat_every"), row.get("beat_period"))
    expression = _cron(row, "beat_")
    if step is not None:
        moment = last + step if last is not None else (start or now)
        if start is not None and moment < start:
            moment = start
    elif expression is not None:
        zone = _zone(row.get("beat_timezone"))
        base = last or now
        if start is not None and start > base:
            base = start - timedelta(microseconds=1)
        moment = _cron_after(expression, zone, base)
        if moment is None:
            return NextSync.none(f"crontab {expression!r} cannot be read")
    else:
        return NextSync.none("its beat task has no interval or crontab")
    expires = _moment(row.get("beat_expires"))
    if expires is not None and moment > expires:
        return NextSync.none(f"its beat task expires at {_iso(expires)}, before its next run")
    return NextSync(moment, "beat")


# -- the schedule row's own fields ------------------------------------------------------------------

def _own(row: Mapping, now: datetime, latest_start: datetime | None) -> NextSync:
    stored = _moment(row.get("next_run"))
    if stored is not None and stored > now:
        return NextSync(stored, "schedule")
    kind = (row.get("recurrence_type") or "").strip().lower()
    if kind == "interval":
        step = _step(row.get("every"), row.get("period"))
        if step is None:
            return NextSync.none(f"interval schedule with every={row.get('every')!r} period={row.get('period')!r}")
        base = stored or _moment(row.get("last_run"))
        source = "schedule"
        if base is None:
            base, source = latest_start, "estimated"
        if base is None:
            start_at = _moment(row.get("start_at"))
            if start_at is not None and start_at > now:
                return NextSync(start_at, "schedule")
            return NextSync.none("an interval schedule with no run yet")
        if base > now:
            return NextSync(base, source)
        return NextSync(base + (math.floor((now - base) / step) + 1) * step, source)
    if kind == "crontab":
        expression = _cron(row, "")
        start_at = _moment(row.get("start_at"))
        base = start_at - timedelta(microseconds=1) if start_at is not None and start_at > now else now
        moment = _cron_after(expression, UTC, base) if expression else None
        if moment is None:
            return NextSync.none(f"crontab {expression!r} cannot be read")
        return NextSync(moment, "schedule")
    return NextSync.none(f"unknown recurrence_type {kind!r}")


def _bounded(row: Mapping, found: NextSync) -> NextSync:
    """Apply the schedule row's own ``start_at`` and ``end_at``."""
    if found.at is None:
        return found
    start_at, end_at = _moment(row.get("start_at")), _moment(row.get("end_at"))
    moment = found.at
    if start_at is not None and moment < start_at:
        moment = start_at
    if end_at is not None and moment > end_at:
        return NextSync.none(f"the schedule ended at {_iso(end_at)}")
    return NextSync(moment, found.source, found.note)


# -- arithmetic -----------------------------------------------------------------------------------

def _cron(row: Mapping, prefix: str) -> str | None:
    fields = [row.get(f"{prefix}{name}") for name in CRON_ORDER]
    if all(f is None or f != f for f in fields):
        return None
    return " ".join((str(f).strip() or "*") if f is not None and f == f else "*" for f in fields)


def _cron_after(expression: str | None, zone: ZoneInfo | UTC.__class__, after: datetime) -> datetime | None:
    """The first firing of ``expression`` read in ``zone`` strictly after ``after`` (UTC out)."""
    if not expression:
        return None
    try:
        local = after.astimezone(zone)  # type: ignore[arg-type]
        moment = croniter(expression, local).get_next(datetime)
    except (ValueError, KeyError, TypeError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)  # type: ignore[arg-type]
    return moment.astimezone(UTC)


def _cron_gap(expression: str | None, zone, now: datetime) -> timedelta | None:
    first = _cron_after(expression, zone, now)
    second = _cron_after(expression, zone, first) if first is not None else None
    return second - first if first is not None and second is not None else None


def _zone(name: object):
    try:
        return ZoneInfo(str(name)) if name and name == name else UTC
    except (ValueError, KeyError, OSError):
        return UTC


def _step(every: object, period: object) -> timedelta | None:
    unit = PERIODS.get(str(period or "").strip().lower())
    try:
        count = float(every)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if unit is None or math.isnan(count) or count <= 0:
        return None
    return int(count) * unit


def _flag(value: object) -> bool | None:
    if value is None or value != value:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true", "yes")
    return bool(value)


def _count(value: object) -> int:
    try:
        return 0 if value is None or value != value else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def _moment(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        if value != value:  # NaT / NaN
            return None
    except (TypeError, ValueError):
        return None
    moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
