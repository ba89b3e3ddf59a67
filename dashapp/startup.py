"""Start-up: the one app factory (``create_app``), the serving engine and its checks, and the embedded demo.

``app.py`` (and gunicorn through it) calls ``create_app(settings, serving_engine(settings))``;
tests and benchmarks call ``create_app`` with an engine of their own. Anything that stops the
start raises StartupError (or ConfigError) with one line naming what is missing; ``app.py``
prints that line and exits with status 2.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import threading
import time

import dash
import dash_bootstrap_components as dbc
from dash import Dash, dcc, html
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashapp import runtime
from dashapp.alerts import config as alert_config
from dashapp.alerts import digest as digest_sender
from dashapp.alerts import evaluation as alerts
from dashapp.auth import users as auth
from dashapp.auth.users import UsersFileError, parse_users
from dashapp.config import PROJECT_ROOT, ConfigError, Settings
from dashapp.demo.embedded import LiveSimulator, backfill
from dashapp.payloads import errors as errors_payloads
from dashapp.payloads import performance as performance_payloads
from dashapp.payloads.day_cache import day_start
from dashapp.payloads.digest import digest as digest_summary
from dashapp.recording.recorder import set_default_engine
from dashapp.storage import migrate, rollups
from dashapp.storage.db import check_database, make_engine
from dashapp.storage.sync_tables import metadata
from dashapp.web import auth_routes, http_errors, ids, request_guard, security_headers, serving, url_prefix
from dashapp.web.api import metrics
from dashapp.web.components.as_of_banner import as_of_banner
from dashapp.web.components.demo_banner import demo_banner
from dashapp.web.components.navbar import navbar
from queries.clock import utc_now

log = logging.getLogger(__name__)
_app: Dash | None = None


def serving_engine(settings: Settings) -> Engine:
    """The engine the app serves: the users file and alert rules checked first, then the demo
    filled (embedded), the database checked, the rollups loop started and a warm-up read."""
    check_users_file(settings)
    check_alert_rules(settings)
    engine = make_engine(settings, serving=True)
    if settings.embedded:
        _fill_demo(settings, engine)
    check_database(engine, settings.sync_schema)
    set_default_engine(engine)
    rollups.start_loop(engine, settings.rollup_refresh_seconds)  # only when `db upgrade` built them
    if not settings.embedded:  # the demo's file is being filled meanwhile: nothing to gain there
        warm_up(engine)
    # what start-up made (modules, the app, its layouts) lives as long as the process: out of the
    # collector's way, so a full collection during a request walks only what requests make (one
    # such collection took ~90 ms of a worker's second request)
    gc.collect()
    gc.freeze()
    return engine


def warm_up(engine: Engine) -> None:
    """Read one day of the performance and errors pages before serving: a database connection is
    then open and the code behind them loaded, so the worker's first request costs what any other
    does. No answer is kept (``CACHE_SECONDS`` applies as usual); a database that does not answer
    is the first request's to report."""
    began = time.perf_counter()
    try:
        now = utc_now()
        today = day_start(now.date())
        performance_payloads.performance_frames(engine, today, now)
        errors_payloads.errors_frames(engine, today, now)
    except SQLAlchemyError as exc:
        log.debug("warm-up skipped: %s", exc)
        return
    log.debug("warmed up in %.0f ms", (time.perf_counter() - began) * 1000)


def _fill_demo(settings: Settings, engine: Engine) -> None:
    """Make the demo file's tables now, then fill it in the background (one process at a time),
    so the app serves at once; the console and a banner on the pages say how far it is
    (``dashapp.runtime.demo_progress``). Then keep one live simulator running."""
    set_default_engine(engine)  # the demo's API calls and runs go to this file
    lock_dir = settings.sqlite_path.parent
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir.joinpath(settings.sqlite_path.name + ".backfill.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        migrate.upgrade(engine)  # the demo holds the app's own tables too
        with engine.begin() as conn:
            metadata.create_all(conn)
    runtime.demo_progress.filling = True
    threading.Thread(target=_fill_then_simulate, args=(settings, engine), name="demo-fill", daemon=True).start()


def _fill_then_simulate(settings: Settings, engine: Engine) -> None:
    lock_dir = settings.sqlite_path.parent

    def report(done: int, days: int) -> None:
        runtime.demo_progress.days_done, runtime.demo_progress.days = done, days
        if done == days or done % 5 == 0 or done == 1:
            log.info("filling the demo: %d of %d days", done, days)

    try:
        with open(lock_dir.joinpath(settings.sqlite_path.name + ".backfill.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            written = backfill(engine, report=report)
        runtime.demo_progress.runs = written
        log.info("embedded demo at %s: %d runs added; the demo is ready", settings.sqlite_path, written)
    except Exception as exc:  # noqa: BLE001 - the app keeps serving what is there
        runtime.demo_progress.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.exception("the demo could not be filled")
    finally:
        runtime.demo_progress.filling = False
    if settings.celery_broker_url:
        log.info("demo runs come from Celery beat (sync_monitor.demo_run): start "
                 "`celery -A dashapp.worker worker --beat`")
        return
    simulator = LiveSimulator(
        engine, lock_dir / (settings.sqlite_path.name + ".live.lock"), min(settings.demo_interval_seconds, 5.0),
        stopped=settings.demo_stopped_crms,
    )
    if simulator.start():
        log.info("demo simulator runs each sync when its schedule says (checked every %.1f s)",
                 min(settings.demo_interval_seconds, 5.0))
        time.sleep(simulator.interval * 2 + 1)  # the syncs due since the fill have started: none reads as late
        alerts.start_loop(engine, settings)  # no beat without a broker: this process evaluates
        digest_sender.start_loop(engine, settings, digest_summary)  # ... and sends the digest at DIGEST_AT


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


def create_app(settings: Settings, engine: Engine | None) -> Dash:
    """The Dash app (pages, navbar, assets, JSON routes) serving ``engine``'s data under
    ``settings``; ``engine`` None: none yet (tests point it per test). Dash keeps page callbacks
    globally, so a process has one app: a second call re-points that app at new settings and a
    new engine."""
    global _app
    runtime.current.settings = settings
    runtime.current.engine = engine
    if _app is not None:
        url_prefix.apply(_app, settings)
        return _app
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(PROJECT_ROOT / "assets"),
        title="Sync Monitor",
        update_title=None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        compress=True,  # gzip/brotli for pages, callbacks and JSON (flask-compress)
        **url_prefix.dash_prefixes(settings.url_prefix),
    )
    serving.configure(app.server, settings, runtime.settings)
    request_guard.configure(app.server, settings)
    security_headers.configure(app)
    from dashapp.web import routes  # here: the pages' modules are imported after the Dash app exists

    routes.register_pages()

    app.layout = _layout
    routes.register_routes(app.server)
    metrics.register(app.server)
    http_errors.register(app.server)
    auth_routes.configure(app.server, settings)
    url_prefix.apply(app, settings)
    url_prefix.install(app.server, runtime.settings)  # outermost: every request passes it first
    _app = app
    return app


def _layout() -> html.Div:
    current = runtime.settings()
    return html.Div([
        dcc.Store(id=ids.APP_CONFIG, data={
            "refresh_seconds": current.refresh_seconds,
            "display_timezone": current.display_timezone,
        }),
        dcc.Store(id=ids.VIEWER_TIMEZONE),
        dcc.Interval(id=ids.CLOCK_TICK, interval=1000),
        navbar(current, auth.current_user(current)),
        as_of_banner(),
        demo_banner(),
        dbc.Container(dash.page_container, fluid=True, className="py-3"),
    ])
