"""Start-up: settings, the database engine and its check, and the embedded demo.

Anything that stops the start raises StartupError (or ConfigError) with one line naming what is
missing; ``app.py`` prints that line and exits with status 2.
"""

from __future__ import annotations

import fcntl
import logging

from dash import Dash
from sqlalchemy import Engine

from dashapp import alert_config, alerts, migrate, rollups
from dashapp.app_factory import build_app
from dashapp.auth import UsersFileError, parse_users
from dashapp.config import ConfigError, Settings, load_settings
from dashapp.db import check_database, make_engine
from dashapp.demo import LiveSimulator, backfill
from dashapp.recorder import set_default_engine

log = logging.getLogger(__name__)


def prepare_engine(settings: Settings) -> Engine:
    engine = make_engine(settings, serving=True)
    if settings.embedded:
        _fill_demo(settings, engine)
    check_database(engine, settings.sync_schema)
    set_default_engine(engine)
    rollups.start_loop(engine, settings.rollup_refresh_seconds)  # only when `db upgrade` built them
    return engine


def _fill_demo(settings: Settings, engine: Engine) -> None:
    """Backfill the demo file (one process at a time) and keep one live simulator running."""
    set_default_engine(engine)  # the demo's API calls and runs go to this file
    lock_dir = settings.sqlite_path.parent
    with open(lock_dir.joinpath(settings.sqlite_path.name + ".backfill.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        migrate.upgrade(engine)  # the demo holds the app's own tables too
        written = backfill(engine)
    log.info("embedded demo at %s: %d runs added", settings.sqlite_path, written)
    if settings.celery_broker_url:
        log.info("demo runs come from Celery beat (sync_monitor.demo_sync): start "
                 "`celery -A dashapp.worker worker --beat`")
        return
    simulator = LiveSimulator(
        engine, lock_dir / (settings.sqlite_path.name + ".live.lock"), settings.demo_interval_seconds,
        stopped=settings.demo_stopped_crms,
    )
    if simulator.start():
        log.info("demo simulator records a run every %.1f s", settings.demo_interval_seconds)
        alerts.start_loop(engine, settings)  # no beat without a broker: this process evaluates


def check_users_file(settings: Settings) -> None:
    """A users file that is set must exist and be usable: a typo would otherwise leave the app
    read-only without saying why."""
    path = settings.auth_users_file
    if path is None:
        return
    try:
        parse_users(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise ConfigError(f"AUTH_USERS_FILE={path}: {exc.strerror}") from None
    except UsersFileError as exc:
        raise ConfigError(f"AUTH_USERS_FILE: {exc}") from None


def check_alert_rules(settings: Settings) -> None:
    try:
        alert_config.load(settings.alert_rules_file)
    except alert_config.AlertConfigError as exc:
        raise ConfigError(f"ALERT_RULES_FILE: {exc}") from None


def create_app(settings: Settings | None = None) -> Dash:
    settings = settings or load_settings()
    check_users_file(settings)
    check_alert_rules(settings)
    return build_app(settings, prepare_engine(settings))
