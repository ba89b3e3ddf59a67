"""The user's tables as the warehouse's Django migrations deploy them (docs/sync-tables.md):
timestamptz times, crontab fields without a prefix, no last_run/next_run on sync_schedule, and
django-celery-beat's three tables in the default schema. Tests build a database of exactly this."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, text

from queries._sql import bind_time

DDL = """
CREATE SCHEMA orchestration;
CREATE TABLE orchestration.sync_history (
    id BIGSERIAL PRIMARY KEY,
    crm_source VARCHAR(50) NOT NULL,
    sync_type VARCHAR(100) NOT NULL,
    endpoint VARCHAR(255),
    start_time TIMESTAMPTZ NOT NULL,
    end_time TIMESTAMPTZ,
    status VARCHAR(20) NOT NULL DEFAULT 'running',
    records_processed INTEGER NOT NULL DEFAULT 0,
    records_created INTEGER NOT NULL DEFAULT 0,
    records_updated INTEGER NOT NULL DEFAULT 0,
    records_failed INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    configuration JSONB DEFAULT '{}',
    performance_metrics JSONB DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX sync_histor_crm_sou_idx ON orchestration.sync_history (crm_source, sync_type, start_time DESC);
CREATE INDEX sync_histor_start_t_idx ON orchestration.sync_history (start_time DESC);
CREATE INDEX sync_histor_status_idx ON orchestration.sync_history (status, start_time DESC);
CREATE INDEX sync_histor_end_tim_idx ON orchestration.sync_history (end_time DESC);
CREATE TABLE django_celery_beat_intervalschedule (
    id SERIAL PRIMARY KEY, every INTEGER NOT NULL, period VARCHAR(24) NOT NULL
);
CREATE TABLE django_celery_beat_crontabschedule (
    id SERIAL PRIMARY KEY, minute VARCHAR(240) NOT NULL, hour VARCHAR(96) NOT NULL,
    day_of_week VARCHAR(64) NOT NULL, day_of_month VARCHAR(124) NOT NULL, month_of_year VARCHAR(64) NOT NULL,
    timezone VARCHAR(63) NOT NULL
);
CREATE TABLE django_celery_beat_periodictask (
    id SERIAL PRIMARY KEY, name VARCHAR(200) NOT NULL UNIQUE, task VARCHAR(200) NOT NULL,
    args TEXT NOT NULL DEFAULT '[]', kwargs TEXT NOT NULL DEFAULT '{}', queue VARCHAR(200),
    exchange VARCHAR(200), routing_key VARCHAR(200), expires TIMESTAMPTZ, enabled BOOLEAN NOT NULL DEFAULT TRUE,
    last_run_at TIMESTAMPTZ, total_run_count INTEGER NOT NULL DEFAULT 0 CHECK (total_run_count >= 0),
    date_changed TIMESTAMPTZ NOT NULL DEFAULT NOW(), description TEXT NOT NULL DEFAULT '',
    crontab_id INTEGER REFERENCES django_celery_beat_crontabschedule (id),
    interval_id INTEGER REFERENCES django_celery_beat_intervalschedule (id),
    solar_id INTEGER, clocked_id INTEGER, one_off BOOLEAN NOT NULL DEFAULT FALSE, start_time TIMESTAMPTZ,
    priority INTEGER, headers TEXT NOT NULL DEFAULT '{}', expire_seconds INTEGER
);
CREATE TABLE orchestration.sync_schedule (
    id BIGSERIAL PRIMARY KEY,
    source_key VARCHAR(64) NOT NULL,
    name VARCHAR(128) NOT NULL,
    mode VARCHAR(16) NOT NULL,
    recurrence_type VARCHAR(16) NOT NULL,
    every INTEGER CHECK (every >= 0),
    period VARCHAR(16),
    minute VARCHAR(64) DEFAULT '0',
    hour VARCHAR(64) DEFAULT '*',
    day_of_week VARCHAR(64) DEFAULT '*',
    day_of_month VARCHAR(64) DEFAULT '*',
    month_of_year VARCHAR(64) DEFAULT '*',
    start_at TIMESTAMPTZ,
    end_at TIMESTAMPTZ,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    options JSONB NOT NULL DEFAULT '{}',
    periodic_task_id INTEGER UNIQUE REFERENCES django_celery_beat_periodictask (id),
    created_by_id INTEGER,
    updated_by_id INTEGER,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    crm_source VARCHAR(64) NOT NULL,
    model_name VARCHAR(128) NOT NULL
);
"""

TABLES = ("orchestration.sync_history", "orchestration.sync_schedule", "django_celery_beat_periodictask",
          "django_celery_beat_intervalschedule", "django_celery_beat_crontabschedule")


def create(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(DDL)


def reset(engine: Engine) -> None:
    """Every table made anew and empty (a test may have dropped or altered one)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS orchestration CASCADE")
        conn.exec_driver_sql("DROP TABLE IF EXISTS " + ", ".join(TABLES[2:]) + " CASCADE")
        conn.exec_driver_sql(DDL)


def beat_task(engine: Engine, name: str, *, every: int | None = None, period: str | None = None,
              crontab: tuple[str, str, str, str, str] | None = None, zone: str = "UTC",
              last_run_at: datetime | None = None, enabled: bool = True, one_off: bool = False,
              total_run_count: int = 0, start_time: datetime | None = None,
              expires: datetime | None = None) -> int:
    """A django-celery-beat task with its interval or crontab (minute, hour, day_of_week,
    day_of_month, month_of_year, read in ``zone``); returns its id. Times are aware UTC."""
    with engine.begin() as conn:
        interval_id = crontab_id = None
        if every is not None:
            interval_id = conn.execute(text(
                "INSERT INTO django_celery_beat_intervalschedule (every, period) VALUES (:e, :p) RETURNING id"),
                {"e": every, "p": period}).scalar_one()
        if crontab is not None:
            crontab_id = conn.execute(text(
                "INSERT INTO django_celery_beat_crontabschedule (minute, hour, day_of_week, day_of_month,"
                " month_of_year, timezone) VALUES (:a, :b, :c, :d, :e, :z) RETURNING id"),
                dict(zip("abcde", crontab, strict=True), z=zone)).scalar_one()
        return int(conn.execute(text(
            "INSERT INTO django_celery_beat_periodictask (name, task, kwargs, enabled, last_run_at, total_run_count,"
            " crontab_id, interval_id, one_off, start_time, expires) VALUES (:n, 'warehouse.run_schedule',"
            " '{}', :en, :last, :count, :cron, :iv, :once, :start, :exp) RETURNING id"),
            {"n": name, "en": enabled, "last": last_run_at, "count": total_run_count, "cron": crontab_id,
             "iv": interval_id, "once": one_off, "start": start_time, "exp": expires}).scalar_one())


def schedule(engine: Engine, crm_source: str, model_name: str, *, recurrence_type: str = "interval",
             every: int | None = None, period: str | None = None, cron: dict | None = None,
             periodic_task_id: int | None = None, enabled: bool = True, start_at: datetime | None = None,
             end_at: datetime | None = None, mode: str = "delta") -> int:
    """A sync_schedule row of the deployed shape; returns its id."""
    with engine.begin() as conn:
        values = {"source_key": crm_source, "name": f"{crm_source} {model_name} {mode}", "mode": mode,
                  "recurrence_type": recurrence_type, "every": every, "period": period,
                  "periodic_task_id": periodic_task_id, "enabled": enabled,
                  "start_at": bind_time(conn, start_at) if start_at else None,
                  "end_at": bind_time(conn, end_at) if end_at else None,
                  "crm_source": crm_source, "model_name": model_name, **(cron or {})}
        columns = ", ".join(values)
        return int(conn.execute(text(
            f"INSERT INTO orchestration.sync_schedule ({columns}) VALUES ({', '.join(':' + c for c in values)})"
            " RETURNING id"), values).scalar_one())
