"""django-celery-beat itself as the oracle for the app's beat arithmetic (``queries.beat_firing``).

``oracle_database()`` makes a throwaway PostgreSQL database with schemas ``django`` and
``orchestration``, points Django at it (``tests/beat_settings.py``: search path ``django`` first,
as the warehouse's Django has it) and runs django-celery-beat's own migrations there, so beat's
tables are exactly the library's, in schema ``django``. The ``BeatOracle`` it yields creates
tasks through beat's ORM and asks beat when they are due: ``beat_due(task_id, now)`` is
``ModelEntry(task, app).is_due()`` under a clock frozen at ``now``, in a transaction rolled back
afterwards (``is_due`` saves the task when it disables an expired or a one-off one).

Only the tests import Django, and only through this module; the app never does.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, make_url, text

from tests import beat_settings
from tests.conftest import DATABASE_TIMEZONE, test_database

SETTINGS_MODULE = "tests.beat_settings"
BEAT_SCHEMA = "django"  # where the warehouse's Django (search path django,orchestration,...) puts beat's tables


def configure(url: str) -> None:
    """Point Django's default database at ``url``; ``django.setup()`` once per process. A second
    call (another database of the same run) re-points the connection; Django set up with any other
    settings module is refused rather than silently reconfigured."""
    import django
    from django.apps import apps
    from django.conf import settings

    parsed = make_url(url)
    fields = {"NAME": parsed.database or "", "USER": parsed.username or "", "PASSWORD": parsed.password or "",
              "HOST": parsed.host or "", "PORT": str(parsed.port or "")}
    if apps.ready:
        if getattr(settings, "SETTINGS_MODULE", None) != SETTINGS_MODULE:
            raise RuntimeError(f"Django is already set up with {settings.SETTINGS_MODULE!r}, not {SETTINGS_MODULE!r}")
        from django.db import connections

        connections.close_all()
        settings.DATABASES["default"].update(fields)  # the dict the connection handler holds
        return
    current = os.environ.get("DJANGO_SETTINGS_MODULE")
    if current not in (None, SETTINGS_MODULE):
        raise RuntimeError(f"DJANGO_SETTINGS_MODULE is {current!r}; the beat oracle needs {SETTINGS_MODULE!r}")
    beat_settings.DATABASES["default"].update(fields)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    try:
        django.setup()
    finally:
        # Django keeps the settings it read; left in the environment, the variable would make every
        # Celery app the later tests of this process create install celery's Django fix-up
        if current is None:
            os.environ.pop("DJANGO_SETTINGS_MODULE", None)


def _schemas(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{BEAT_SCHEMA}"'))
        conn.execute(text("CREATE SCHEMA orchestration"))  # the app's schema (its role's grants name it)


@contextmanager
def oracle_database(name: str | None = None) -> Iterator[BeatOracle]:
    """A database of this run (``beat_oracle_<hex>``) with beat's tables made by beat's own
    migrations in schema ``django``; dropped at the end."""
    with test_database(name or f"beat_oracle_{uuid.uuid4().hex[:10]}", DATABASE_TIMEZONE, _schemas) as url:
        configure(url)
        from django.core.management import call_command
        from django.db import connections

        try:
            call_command("migrate", "django_celery_beat", verbosity=0, interactive=False)
            yield BeatOracle(url)
        finally:
            connections.close_all()


class BeatOracle:
    """Beat's ORM and ``ModelEntry.is_due`` on the oracle database (``url``: for the app's engine)."""

    def __init__(self, url: str):
        from celery import Celery

        self.url = url
        # beat's app as the warehouse configures it: Django's TIME_ZONE (UTC) is celery's
        self.app = Celery("sync-monitor-beat-oracle", set_as_current=False)
        self.app.conf.timezone = "UTC"
        self.app.conf.enable_utc = True
        self._names = 0

    # -- schedules and tasks through beat's ORM ------------------------------------------------

    def clear(self) -> None:
        """Delete every task and schedule (tests reuse the one database)."""
        from django_celery_beat import models

        models.PeriodicTask.objects.all().delete()
        for model in (models.IntervalSchedule, models.CrontabSchedule, models.ClockedSchedule,
                      models.SolarSchedule):
            model.objects.all().delete()

    def interval(self, every: int, period: str):
        from django_celery_beat.models import IntervalSchedule

        return IntervalSchedule.objects.create(every=every, period=period)

    def crontab(self, minute: str = "*", hour: str = "*", day_of_month: str = "*", month_of_year: str = "*",
                day_of_week: str = "*", timezone: str = "UTC"):
        """Fields in cron's order (minute hour day-of-month month day-of-week), in ``timezone``."""
        from django_celery_beat.models import CrontabSchedule

        return CrontabSchedule.objects.create(minute=minute, hour=hour, day_of_month=day_of_month,
                                              month_of_year=month_of_year, day_of_week=day_of_week,
                                              timezone=timezone)

    def clocked(self, at: datetime):
        from django_celery_beat.models import ClockedSchedule

        return ClockedSchedule.objects.create(clocked_time=at)

    def solar(self, event: str, latitude: float, longitude: float):
        from django_celery_beat.models import SolarSchedule

        return SolarSchedule.objects.create(event=event, latitude=Decimal(str(latitude)),
                                            longitude=Decimal(str(longitude)))

    def task(self, schedule, *, date_changed: datetime, last_run_at: datetime | None = None,
             start_time: datetime | None = None, expires: datetime | None = None, one_off: bool = False,
             enabled: bool = True, total_run_count: int = 0, name: str | None = None) -> int:
        """A periodic task on ``schedule`` (one of the four schedule objects), saved through beat's
        model (so its rules apply: saving a task disabled clears ``last_run_at``), then its
        ``date_changed`` (auto_now) set to the value given. Returns its id."""
        from django_celery_beat.models import (
            ClockedSchedule,
            CrontabSchedule,
            IntervalSchedule,
            PeriodicTask,
            SolarSchedule,
        )

        kinds = {IntervalSchedule: "interval", CrontabSchedule: "crontab", ClockedSchedule: "clocked",
                 SolarSchedule: "solar"}
        self._names += 1
        task = PeriodicTask(name=name or f"oracle task {self._names}", task="sync.run",
                            kwargs=f'{{"schedule_id": {self._names}}}', start_time=start_time, expires=expires,
                            one_off=one_off, enabled=enabled, total_run_count=total_run_count,
                            last_run_at=last_run_at, **{kinds[type(schedule)]: schedule})
        task.save()
        PeriodicTask.objects.filter(pk=task.pk).update(date_changed=date_changed)
        return task.pk

    # -- beat's answer ------------------------------------------------------------------------

    def beat_due(self, task_id: int, now: datetime) -> tuple[bool, float]:
        """``ModelEntry(task, app).is_due()`` with the clock frozen at ``now``: (is_due, seconds
        until beat looks again). A task whose schedule cannot be built (``ValueError``, which
        ``DatabaseScheduler.all_as_schedule`` skips) is never due: (False, inf). Whatever
        ``is_due`` saves is rolled back."""
        import time_machine
        from django.db import transaction
        from django_celery_beat.models import PeriodicTask
        from django_celery_beat.schedulers import ModelEntry

        with transaction.atomic():
            try:
                with time_machine.travel(now, tick=False):
                    model = PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked").get(
                        pk=task_id)
                    try:
                        entry = ModelEntry(model, app=self.app)
                    except ValueError:
                        return False, math.inf
                    due, next_seconds = entry.is_due()
                    return bool(due), float(next_seconds)
            finally:
                transaction.set_rollback(True)

    def raw(self, statement: str) -> None:
        """SQL as the tables' owner (the Django connection's role)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(statement)
