"""The command line: one table of commands (``COMMANDS``), as the routes have (``dashapp/web/routes.py``).

``app.py`` serves without arguments and hands anything else to ``main``: ``--help`` or a word not
in the table prints the usage and exits 2. Every command reports a refusal (bad arguments, a
setting, a database that does not answer) as one ``sync-monitor:`` line and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy.exc import SQLAlchemyError

from dashapp.alerts.config import AlertConfigError
from dashapp.auth.users import ROLES, UsersFileError
from dashapp.config import ConfigError, load_settings
from dashapp.errors import error_line
from dashapp.storage.db import StartupError, make_engine

PROGRAM = "python app.py"
HELP_WORDS = ("-h", "--help", "help")


class Refused(Exception):
    """A command cannot go on; the message is the one line it prints."""


class BadUsage(Exception):
    """A command's arguments are not what it takes: its usage line is printed instead."""


@dataclass(frozen=True)
class Command:
    """One command: its first word, what runs it (the words after it), its usage and what it does."""

    word: str
    handler: Callable[[list[str]], int]
    usage: str
    help: str

    def run(self, args: list[str]) -> int:
        """The handler's status; any refusal is one line on stderr and status 2."""
        try:
            return self.handler(args)
        except BadUsage as exc:
            print(f"usage: {PROGRAM} {self.usage}" + (f"  ({exc})" if str(exc) else ""), file=sys.stderr)
        except (Refused, ConfigError, StartupError, AlertConfigError, UsersFileError) as exc:
            print(f"sync-monitor: {exc}", file=sys.stderr)
        except SQLAlchemyError as exc:
            print(f"sync-monitor: the database refused: {error_line(exc)}", file=sys.stderr)
        return 2


def database_command(args: list[str]) -> int:
    """``db upgrade`` (then the rollups' first build) or ``db current``."""
    if args not in (["upgrade"], ["current"]):
        raise BadUsage
    from dashapp.storage import migrate

    settings = load_settings()
    engine = make_engine(settings)
    revision = migrate.upgrade(engine) if args == ["upgrade"] else migrate.current(engine)
    if args == ["upgrade"]:
        from dashapp.storage import rollups

        if not rollups.state(engine).get("covered_until"):
            rollups.build(engine)  # the whole history, with progress in the log
    where = "SQLite main database" if settings.embedded else f"schema {settings.app_schema}"
    if settings.monitor_database_url:
        where += " of MONITOR_DATABASE_URL"
    print(f"app schema ({where}) at revision {revision or 'none'}")
    return 0


class _UsersArguments(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise BadUsage(message)


def users_command(args: list[str]) -> int:
    """``users add NAME --role viewer|operator [--no-password]``: add or replace a user in
    AUTH_USERS_FILE. The password is asked twice on a terminal, or read as one line from stdin."""
    from dashapp.auth.users import add_user

    parser = _UsersArguments(prog=f"{PROGRAM} users", add_help=False)
    parser.add_argument("command", choices=["add"])
    parser.add_argument("name")
    parser.add_argument("--role", choices=ROLES, default="viewer")
    parser.add_argument("--no-password", action="store_true")
    options = parser.parse_args(args)
    settings = load_settings()
    if settings.auth_users_file is None:
        raise Refused("set AUTH_USERS_FILE to the users file's path first")
    password = None if options.no_password else _new_password(options.name)
    try:
        add_user(settings.auth_users_file, options.name, options.role, password)
    except OSError as exc:
        raise Refused(str(exc)) from None
    print(f"{options.name} ({options.role}) saved in {settings.auth_users_file}")
    return 0


def _new_password(name: str) -> str:
    """Asked twice on a terminal, or one line of stdin; at least 8 characters."""
    import getpass

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        if password != getpass.getpass("again: "):
            raise Refused("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise Refused("a password needs at least 8 characters")
    return password


def alerts_command(args: list[str]) -> int:
    """``alerts check``: evaluate the rules once and send due notifications (cron)."""
    if args != ["check"]:
        raise BadUsage
    from dashapp.alerts import evaluation as alerts
    from dashapp.storage import migrate

    settings = load_settings()
    engine = make_engine(settings)
    if migrate.current(engine) != migrate.head():
        raise Refused("the app's tables are not up to date: run `python app.py db upgrade`")
    outcome = alerts.evaluate(engine, settings)
    print(outcome.summary())
    return 1 if outcome.rule_errors else 0


def digest_command(args: list[str]) -> int:
    """``digest send``: send the morning digest if it is due and no process has sent it (for cron,
    where no Celery beat runs); prints what happened. Status 1 when a channel failed."""
    if args != ["send"]:
        raise BadUsage
    from dashapp.alerts import digest
    from dashapp.payloads.digest import digest as summarize
    from dashapp.storage import migrate

    settings = load_settings()
    engine = make_engine(settings)
    if migrate.current(engine) != migrate.head():
        raise Refused("the app's tables are not up to date: run `python app.py db upgrade`")
    outcome = digest.send_digest(engine, settings, summarize=summarize)
    print(outcome)
    return 1 if outcome.startswith("failed") or outcome.endswith("tried again next tick") else 0


def rollups_command(args: list[str]) -> int:
    """``rollups refresh`` (one cycle, for cron) or ``rollups build`` (all again)."""
    if args not in (["refresh"], ["build"]):
        raise BadUsage
    from dashapp.storage import rollups

    engine = make_engine(load_settings())
    if not rollups.available(engine):
        raise Refused("the rollup tables do not exist: run `python app.py db upgrade`")
    outcome = rollups.refresh(engine) if args == ["refresh"] else {"rows": rollups.build(engine)}
    print(f"rollups: {outcome}")
    return 0


def demo_command(args: list[str]) -> int:
    """``demo fill [--days N]``: the embedded demo's tables, schedules and N days (default 30) of
    runs (and their API calls) written into DATABASE_URL, for a demo on PostgreSQL (compose's
    ``demo`` profile). Idempotent: a second fill adds only the runs since the last one."""
    days = _demo_days(args)
    from datetime import timedelta

    from sqlalchemy.schema import CreateSchema

    from dashapp.demo.embedded import backfill
    from dashapp.recording.recorder import set_default_engine
    from dashapp.storage import migrate
    from dashapp.storage.sync_tables import metadata

    settings = load_settings()
    if settings.embedded:
        raise Refused("set DATABASE_URL to the database to fill (without it the app fills its own demo)")
    engine = make_engine(settings)
    with engine.begin() as conn:
        conn.execute(CreateSchema(settings.sync_schema, if_not_exists=True))
        metadata.create_all(conn)
    migrate.upgrade(engine)  # the demo's API calls go to the app's own tables
    set_default_engine(engine)
    written = backfill(engine, history=timedelta(days=days))
    print(f"demo: {written} runs written")
    return 0


def _demo_days(args: list[str]) -> int:
    """The days ``demo fill`` asks for (30 when not given); BadUsage for anything it does not take."""
    if args == ["fill"]:
        return 30
    if len(args) == 3 and args[:2] == ["fill", "--days"] and args[2].isdigit() and 1 <= int(args[2]) <= 30:
        return int(args[2])
    raise BadUsage


# Every command, in the order the usage lists them; ``python app.py`` alone serves (app.py).
COMMANDS: tuple[Command, ...] = (
    Command("db", database_command, "db upgrade | db current",
            "create or upgrade the app's own schema (APP_SCHEMA); `db current` shows its revision"),
    Command("users", users_command, "users add NAME [--role viewer|operator] [--no-password]",
            "add or replace a user in AUTH_USERS_FILE (the password is asked, or read from stdin)"),
    Command("alerts", alerts_command, "alerts check", "evaluate the alert rules once (for cron)"),
    Command("digest", digest_command, "digest send",
            "send the morning digest when DIGEST_AT has passed and nobody sent it (for cron)"),
    Command("rollups", rollups_command, "rollups refresh | rollups build",
            "bring the run rollups up to date once (for cron), or build them all again"),
    Command("demo", demo_command, "demo fill [--days N]  (N from 1 to 30)",
            "write the demo's runs (30 days) into DATABASE_URL"),
)


def usage() -> str:
    """The table as the usage text: one line per command, serving first."""
    lines = [(PROGRAM, "serve on HOST:PORT (default 127.0.0.1:8050); `gunicorn app:server` in production")]
    lines += [(f"{PROGRAM} {command.usage}", command.help) for command in COMMANDS]
    return "usage:\n" + "\n".join(f"  {line}\n      {what}" for line, what in lines)


def main(argv: list[str]) -> int:
    """Run the command ``argv`` names (the arguments after ``app.py``); the usage and 2 for ``--help``
    or a word that names none."""
    command = next((command for command in COMMANDS if argv[:1] == [command.word]), None)
    if command is None:
        if argv[:1] and argv[0] not in HELP_WORDS:
            print(f"sync-monitor: no command {argv[0][:40]!r}", file=sys.stderr)
        print(usage(), file=sys.stderr)
        return 2
    return command.run(argv[1:])
