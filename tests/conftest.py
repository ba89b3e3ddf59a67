"""Shared fixtures: a real PostgreSQL database made for the test run (session zone not UTC), a
SQLite file per test, the one Dash app of the process, and headless Chromium for dash_duo.

A test that needs a service it cannot reach is skipped on a developer's machine and fails under
CI (CI=true), so a green CI run always means the service was really exercised.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from dashapp.config import load_settings
from dashapp.storage.db import app_file, postgres_engine, psycopg2_url, sqlite_engine
from dashapp.storage.sync_tables import metadata

CI = os.environ.get("CI", "").lower() == "true"
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# The test database's own zone: far from UTC, so a naive-UTC mix-up moves rows across the
# 24-hour line and the tests see it.
DATABASE_TIMEZONE = "America/Los_Angeles"


def need(service: str, problem: str) -> None:
    """Skip (developer) or fail (CI) a test whose service is missing."""
    message = f"{service} is not available: {problem}"
    if CI:
        pytest.fail(message + " (CI=true: a missing service fails the run)")
    pytest.skip(message)


def _admin_engine() -> Engine:
    return create_engine(psycopg2_url(ADMIN_URL), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


@contextmanager
def test_database(name: str, zone: str, create: Callable[[Engine], None]) -> Iterator[str]:
    """A database of this run named ``name``, default zone ``zone``, its tables made by
    ``create``; dropped at the end."""
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            conn.execute(text(f"ALTER DATABASE \"{name}\" SET timezone TO '{zone}'"))
    except Exception as exc:  # noqa: BLE001 - any failure here means "no PostgreSQL"
        admin.dispose()
        need("PostgreSQL", f"{ADMIN_URL}: {str(exc).splitlines()[0]}")
    url = psycopg2_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    plain = create_engine(url)
    create(plain)
    plain.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _documented_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA orchestration"))
        metadata.create_all(conn)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database made for this run, holding the user's two tables, default zone not UTC."""
    with test_database(f"sync_monitor_test_{uuid.uuid4().hex[:10]}", DATABASE_TIMEZONE, _documented_tables) as url:
        yield url


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    """The run's database, emptied for this test, through the app's own engine set-up."""
    from queries import table_shape

    engine = postgres_engine(postgres_url, "orchestration")
    table_shape.forget(engine)
    with engine.begin() as conn:
        metadata.create_all(conn)  # a test may have dropped one
        conn.execute(text(
            "TRUNCATE orchestration.sync_history, orchestration.sync_schedule RESTART IDENTITY"
        ))
    forget_rollups(engine)
    yield engine
    engine.dispose()


def forget_rollups(engine: Engine) -> None:
    """The raw table was just emptied: rollups a test (or ``app.py db upgrade``) built earlier
    would answer for runs that are gone. Without their state row readers use the raw table."""
    with engine.begin() as conn:
        if conn.execute(text("SELECT to_regclass('sync_monitor.rollup_state')")).scalar() is not None:
            conn.execute(text("DELETE FROM sync_monitor.rollup_state"))


# The deployed shape's database runs in yet another zone, so a mix-up between the data zone, the
# database's and a crontab's shows.
DEPLOYED_TIMEZONE = "Europe/Berlin"


@pytest.fixture(scope="session")
def deployed_url(postgres_url: str) -> Iterator[str]:
    """A second database holding exactly the user's tables as the warehouse's migrations deploy
    them (tests/support/deployed_shape.py): timestamptz, plain crontab names, beat's tables."""
    from tests.support import deployed_shape

    with test_database(make_url(postgres_url).database + "_deployed", DEPLOYED_TIMEZONE, deployed_shape.create) as url:
        yield url


@pytest.fixture
def deployed_engine(deployed_url: str) -> Iterator[Engine]:
    """The deployed-shape database, emptied for this test, through the app's own engine set-up."""
    from queries import table_shape
    from tests.support import deployed_shape

    engine = postgres_engine(deployed_url, "orchestration")
    deployed_shape.reset(engine)
    table_shape.forget(engine)
    forget_rollups(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Engine]:
    engine = sqlite_engine(tmp_path / "sync.sqlite3", "orchestration")
    with engine.begin() as conn:
        metadata.create_all(conn)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file (and its app file) with the user's tables and the app's migrated to head, made
    once per run: Alembic's upgrade of a new file costs about 0.3 s."""
    from dashapp.storage import migrate

    path = tmp_path_factory.mktemp("migrated_sqlite") / "sync.sqlite3"
    engine = sqlite_engine(path, "orchestration")
    with engine.begin() as conn:
        metadata.create_all(conn)
    migrate.upgrade(engine)
    engine.dispose()  # the last connection's close folds the WAL into the files
    return path


@pytest.fixture
def migrated_sqlite_db(tmp_path: Path, migrated_sqlite_file: Path) -> Iterator[Engine]:
    """``sqlite_db`` with the app's tables already migrated: a copy of this run's migrated file."""
    path = tmp_path / "sync.sqlite3"
    for source, target in ((migrated_sqlite_file, path), (app_file(migrated_sqlite_file), app_file(path))):
        shutil.copyfile(source, target)
    engine = sqlite_engine(path, "orchestration")
    yield engine
    engine.dispose()


DB_FIXTURES = {"postgres": "pg_engine", "deployed": "deployed_engine", "sqlite": "sqlite_db"}


@pytest.fixture(params=list(DB_FIXTURES))
def db(request: pytest.FixtureRequest) -> Engine:
    """The same test on real PostgreSQL with the documented tables, on PostgreSQL with the
    deployed ones (and beat's), and on SQLite."""
    return request.getfixturevalue(DB_FIXTURES[request.param])


@pytest.fixture(scope="session")
def dash_app():
    """The process's one Dash app; each test points it at its own engine with ``use_engine``."""
    from dashapp.startup import create_app

    # CACHE_SECONDS=0: tests write rows and read them back at once (tests/payloads/test_result_cache.py turns it on)
    settings = load_settings({"REFRESH_SECONDS": "2", "SECRET_KEY": "tests-sign-cookies-with-this",
                              "CACHE_SECONDS": "0"})
    return create_app(settings, None)


@pytest.fixture
def use_engine(dash_app):
    """Point the app at an engine (and optionally other settings) for one test."""
    from dashapp import runtime

    saved = (runtime.current.settings, runtime.current.engine)

    def point(engine: Engine, **env: str) -> None:
        runtime.current.engine = engine
        runtime.current.settings = load_settings({"REFRESH_SECONDS": "2", "CACHE_SECONDS": "0", **env})

    yield point
    runtime.current.settings, runtime.current.engine = saved


def empty_app_tables(engine: Engine) -> None:
    """Migrate the app's own tables and empty them all (raw calls, rollups, breaker events)."""
    from dashapp.storage import migrate
    from dashapp.storage.app_tables import metadata as app_metadata
    from queries._sql import app_db

    migrate.upgrade(engine)
    with app_db(engine).begin() as conn:
        for table in app_metadata.sorted_tables:
            conn.execute(table.delete())


def call_writer(engine: Engine, flush_seconds: float = 60) -> Iterator:
    """A CRM-call writer of the test's own on ``engine``'s emptied app tables, installed while the
    test runs: ``yield from call_writer(db)`` in a fixture."""
    from dashapp.recording import crm_calls as api_calls

    empty_app_tables(engine)
    current = api_calls.Writer(engine, flush_seconds=flush_seconds)
    api_calls.use_writer(current)
    yield current
    current.close()
    api_calls.use_writer(None)


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def empty_redis() -> str:
    """Redis database 15 (TEST_REDIS_URL), emptied; a missing Redis skips or fails (``need``)."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as exc:
        need("Redis", f"{REDIS_URL}: {exc}")
    client.flushdb()
    return REDIS_URL


@pytest.fixture
def redis_url() -> str:
    """Redis database 15 (TEST_REDIS_URL), emptied for this test."""
    return empty_redis()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def fresh_day_cache():
    """Tests reuse one database with new rows: no closed day may come from an earlier test."""
    from dashapp.payloads.day_cache import DAYS

    DAYS.clear()


@pytest.fixture
def browser_ready() -> None:
    for tool in ("chromium", "chromedriver"):
        if shutil.which(tool) is None:
            need("Chromium", f"{tool} is not on PATH (apt-get install chromium chromium-driver)")


def _dash_test_ports() -> None:
    """DASH_TEST_PORT moves dash_duo's servers off their default ports, so two checkouts can run
    browser tests side by side."""
    port = os.environ.get("DASH_TEST_PORT")
    if port:
        from dash.testing.application_runners import BaseDashRunner

        BaseDashRunner._next_port = int(port)


_dash_test_ports()


BROWSER_FIXTURES = frozenset({"dash_duo", "dash_br", "dash_thread_server", "browser_ready"})
SLOW_FOLDERS = ("deploy",)  # every test there runs servers or containers of its own
# A test on ``db`` runs on three table shapes; the fast subset runs it once, on the documented
# tables in PostgreSQL, and leaves the deployed shape and SQLite to the full run.
SLOW_SHAPES = frozenset({"deployed", "sqlite"})
# Tests slow by nature, named here (file::name, with its parameters where only some are slow): a
# real process, or a rollup build per test. The fast subset keeps a sibling of each.
SLOW_TESTS = {
    # a real celery beat process waits for its first tick (the worker tests beside it are slow too)
    "retries/test_retry_queue.py::test_the_demo_beat_sends_due_syncs_from_beat_itself_and_they_read_queued",
    # ``python app.py`` as a process, ~2.5 s each: the fast subset keeps ``help`` and an unknown word
    "test_command_line.py::test_help_prints_every_command_and_exits_2_without_serving[--help]",
    "test_command_line.py::test_help_prints_every_command_and_exits_2_without_serving[-h]",
    # each builds the run rollups over 50 days of runs (~1.5 s): the fast subset keeps the first filter
    *(f"queries/test_history_count.py::test_filters_the_rollups_cannot_answer_count_the_raw_table[postgres-f{i}]"
      for i in range(1, 5)),
    # each waits out a deliberate timeout (a broker or Redis that is down or never answers, Celery's
    # inspect with no worker, a 1 s statement timeout): about 1 to 2 s of waiting each. The fast subset
    # keeps the health, security and retry tests beside them that answer at once
    "alerts/test_notifications.py::test_redis_down_and_tasks_waiting_without_a_worker",
    "health/test_health.py::test_health_routes",
    "health/test_health.py::test_redis_and_broker_that_do_not_answer_are_unhealthy_within_the_bound[black_hole]",
    "health/test_health.py::test_tasks_waiting_with_no_worker_are_counted_and_degraded",
    "health/test_health.py::test_two_calls_inside_the_window_cost_one_inspect_even_across_processes",
    "health/test_queue_backlog.py::test_retries_waiting_are_counted_in_their_own_queue",
    "queries/test_failed_operations.py::test_claims_on_both_backends_and_a_broker_that_is_down_gives_them_back"
    "[postgres]",
    "retries/test_retries.py::test_a_broker_that_is_down_gives_the_claim_back",
    "security/test_error_causes.py::test_a_statement_timeout_says_so_and_names_the_setting[documented]",
    "security/test_error_causes.py::test_a_statement_timeout_says_so_and_names_the_setting[deployed]",
    "security/test_export_failure.py::test_a_copy_that_fails_before_the_first_byte_is_a_503",
}


def _slow(item: pytest.Item, tests: Path) -> bool:
    where = item.path.relative_to(tests) if item.path.is_relative_to(tests) else None
    folder = where.parts[0] if where is not None else ""
    named = where is not None and f"{where.as_posix()}::{item.name}" in SLOW_TESTS
    callspec = getattr(item, "callspec", None)
    other_shape = callspec is not None and callspec.params.get("db") in SLOW_SHAPES
    return folder in SLOW_FOLDERS or other_shape or named or item.get_closest_marker("container") is not None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they use, so a new one is marked without anyone remembering: a test that
    drives Chromium is ``browser``; a ``container`` test, everything in tests/deploy/ and a ``db``
    test's runs on the deployed shape and SQLite are ``slow``, and so are the tests of SLOW_TESTS (a
    process or a rollup build per case, or a deliberate timeout waited out). Files
    or tests slow for other reasons (servers, workers, sweeps: over about 5 s alone) say so with
    ``pytest.mark.slow``."""
    tests = Path(__file__).parent
    for item in items:
        if BROWSER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
        if _slow(item, tests):
            item.add_marker(pytest.mark.slow)


def pytest_setup_options():
    """Extra flags for dash_duo's headless Chromium: no background traffic on a closed network."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for flag in ("--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--window-size=1280,900"):
        options.add_argument(flag)
    return options
