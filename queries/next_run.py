"""When a schedule from ``sync_schedule`` fires next: pure date arithmetic, no SQL.

A stored ``next_run`` in the future wins. Otherwise (NULL, or already past) the next occurrence
after ``now`` is derived: for an interval schedule by stepping ``every`` x ``period`` from
``next_run`` or ``last_run``; for a crontab schedule from its five fields, read in UTC as
Celery beat does by default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from croniter import croniter

PERIODS = {
    "seconds": timedelta(seconds=1),
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
    "weeks": timedelta(weeks=1),
}


def next_run(schedule: Mapping, now: datetime) -> tuple[datetime | None, str | None]:
    """(the next run, None), or (None, why it cannot be told) for one schedule row.

    ``now`` and the row's ``last_run``/``next_run`` are aware UTC datetimes (or None).
    """
    stored = _moment(schedule.get("next_run"))
    if stored is not None and stored > now:
        return stored, None
    kind = (schedule.get("recurrence_type") or "").strip().lower()
    if kind == "interval":
        return _next_interval(schedule, stored, now)
    if kind == "crontab":
        return _next_crontab(schedule, now)
    return None, f"unknown recurrence_type {kind!r}"


def _next_interval(schedule: Mapping, stored: datetime | None, now: datetime):
    every, period = schedule.get("every"), (schedule.get("period") or "").strip().lower()
    if not _positive(every) or period not in PERIODS:
        return None, f"interval schedule with every={every!r} period={period!r}"
    step = int(every) * PERIODS[period]
    base = stored or _moment(schedule.get("last_run"))
    if base is None:
        return None, "interval schedule that has never run and has no next_run"
    if base > now:
        return base, None
    steps = math.floor((now - base) / step) + 1
    return base + steps * step, None


def _next_crontab(schedule: Mapping, now: datetime):
    fields = [
        (schedule.get(f"crontab_{name}") or "*").strip()
        for name in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    ]
    expression = " ".join(fields)
    try:
        moment = croniter(expression, now.astimezone(UTC)).get_next(datetime)
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"crontab {expression!r} cannot be read: {exc}"
    return moment.astimezone(UTC), None


def _positive(value: object) -> bool:
    try:
        return value is not None and not math.isnan(float(value)) and int(value) > 0
    except (TypeError, ValueError):
        return False


def _moment(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        if value != value:  # NaT / NaN
            return None
    except (TypeError, ValueError):
        return None
    moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def interval(schedule: Mapping, now: datetime) -> timedelta | None:
    """How often a schedule fires: ``every`` x ``period``, or for a crontab the gap between its
    next two firings after ``now``; None when it cannot be told."""
    kind = (schedule.get("recurrence_type") or "").strip().lower()
    if kind == "interval":
        every, period = schedule.get("every"), (schedule.get("period") or "").strip().lower()
        return int(every) * PERIODS[period] if _positive(every) and period in PERIODS else None
    if kind == "crontab":
        first, why = _next_crontab(schedule, now)
        if first is None:
            return None
        second, _ = _next_crontab(schedule, first)
        return second - first if second is not None else None
    return None
