"""``python app.py db upgrade`` and ``python app.py db current``."""

from __future__ import annotations

import sys

from sqlalchemy.exc import SQLAlchemyError

from dashapp.config import ConfigError, load_settings
from dashapp.errors import error_line
from dashapp.storage.db import StartupError, make_engine


def database_command(args: list[str]) -> int:
    if args not in (["upgrade"], ["current"]):
        print("usage: python app.py db upgrade | db current", file=sys.stderr)
        return 2
    from dashapp.storage import migrate

    try:
        settings = load_settings()
        engine = make_engine(settings)
        revision = migrate.upgrade(engine) if args == ["upgrade"] else migrate.current(engine)
        if args == ["upgrade"]:
            from dashapp.storage import rollups

            if not rollups.state(engine).get("covered_until"):
                rollups.build(engine)  # the whole history, with progress in the log
    except (ConfigError, StartupError) as exc:
        print(f"sync-monitor: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"sync-monitor: the database refused: {error_line(exc)}", file=sys.stderr)
        return 2
    where = "SQLite main database" if settings.embedded else f"schema {settings.app_schema}"
    if settings.monitor_database_url:
        where += " of MONITOR_DATABASE_URL"
    print(f"app schema ({where}) at revision {revision or 'none'}")
    return 0


def users_command(args: list[str]) -> int:
    """``python app.py users add NAME --role viewer|operator [--no-password]``: add or replace a user
    in AUTH_USERS_FILE. The password is asked twice on a terminal, or read as one line from stdin."""
    import argparse
    import getpass

    from dashapp.auth.users import ROLES, UsersFileError, add_user

    parser = argparse.ArgumentParser(prog="python app.py users")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add or replace a user")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer")
    add.add_argument("--no-password", action="store_true", help="a proxy-only user (AUTH_PROXY_HEADER)")
    options = parser.parse_args(args)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"sync-monitor: {exc}", file=sys.stderr)
        return 2
    if settings.auth_users_file is None:
        print("sync-monitor: set AUTH_USERS_FILE to the users file's path first", file=sys.stderr)
        return 2
    password = None
    if not options.no_password:
        if sys.stdin.isatty():
            password = getpass.getpass(f"password for {options.name}: ")
            if password != getpass.getpass("again: "):
                print("sync-monitor: the passwords differ", file=sys.stderr)
                return 2
        else:
            password = sys.stdin.readline().rstrip("\n")
        if len(password) < 8:
            print("sync-monitor: a password needs at least 8 characters", file=sys.stderr)
            return 2
    try:
        add_user(settings.auth_users_file, options.name, options.role, password)
    except (UsersFileError, OSError) as exc:
        print(f"sync-monitor: {exc}", file=sys.stderr)
        return 2
    print(f"{options.name} ({options.role}) saved in {settings.auth_users_file}")
    return 0


def alerts_command(args: list[str]) -> int:
    """``python app.py alerts check``: evaluate the rules once and send due notifications (cron)."""
    if args != ["check"]:
        print("usage: python app.py alerts check", file=sys.stderr)
        return 2
    from dashapp.alerts import evaluation as alerts
    from dashapp.alerts.config import AlertConfigError
    from dashapp.storage import migrate

    try:
        settings = load_settings()
        engine = make_engine(settings)
        if migrate.current(engine) != migrate.head():
            print("sync-monitor: the app's tables are not up to date: run `python app.py db upgrade`", file=sys.stderr)
            return 2
        outcome = alerts.evaluate(engine, settings)
    except (ConfigError, StartupError, AlertConfigError) as exc:
        print(f"sync-monitor: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"sync-monitor: the database refused: {error_line(exc)}", file=sys.stderr)
        return 2
    print(outcome.summary())
    return 1 if outcome.rule_errors else 0


def rollups_command(args: list[str]) -> int:
    """``python app.py rollups refresh`` (one cycle, for cron) or ``rollups build`` (all again)."""
    if args not in (["refresh"], ["build"]):
        print("usage: python app.py rollups refresh | rollups build", file=sys.stderr)
        return 2
    from dashapp.storage import rollups

    try:
        engine = make_engine(load_settings())
        if not rollups.available(engine):
            print("sync-monitor: the rollup tables do not exist: run `python app.py db upgrade`", file=sys.stderr)
            return 2
        outcome = rollups.refresh(engine) if args == ["refresh"] else {"rows": rollups.build(engine)}
    except (ConfigError, StartupError) as exc:
        print(f"sync-monitor: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"sync-monitor: the database refused: {error_line(exc)}", file=sys.stderr)
        return 2
    print(f"rollups: {outcome}")
    return 0


def demo_command(args: list[str]) -> int:
    """``python app.py demo fill [--days N]``: the embedded demo's tables, schedules and N days
    (default 30) of runs (and their API calls) written into DATABASE_URL, for a demo on PostgreSQL
    (compose's ``demo`` profile). Idempotent: a second fill adds only the runs since the last one."""
    days = _demo_days(args)
    if days is None:
        print("usage: python app.py demo fill [--days N]  (N from 1 to 30)", file=sys.stderr)
        return 2
    from datetime import timedelta

    from sqlalchemy.schema import CreateSchema

    from dashapp.demo.embedded import backfill
    from dashapp.recording.recorder import set_default_engine
    from dashapp.storage import migrate
    from dashapp.storage.sync_tables import metadata

    try:
        settings = load_settings()
        if settings.embedded:
            print("sync-monitor: set DATABASE_URL to the database to fill (without it the app fills its own demo)",
                  file=sys.stderr)
            return 2
        engine = make_engine(settings)
        with engine.begin() as conn:
            conn.execute(CreateSchema(settings.sync_schema, if_not_exists=True))
            metadata.create_all(conn)
        migrate.upgrade(engine)  # the demo's API calls go to the app's own tables
        set_default_engine(engine)
        written = backfill(engine, history=timedelta(days=days))
    except (ConfigError, StartupError) as exc:
        print(f"sync-monitor: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"sync-monitor: the database refused: {error_line(exc)}", file=sys.stderr)
        return 2
    print(f"demo: {written} runs written")
    return 0


def _demo_days(args: list[str]) -> int | None:
    """The days ``demo fill`` asks for (30 when not given); None for anything it does not take."""
    if args == ["fill"]:
        return 30
    if len(args) == 3 and args[:2] == ["fill", "--days"] and args[2].isdigit() and 1 <= int(args[2]) <= 30:
        return int(args[2])
    return None
