"""``python app.py db upgrade`` and ``python app.py db current``."""

from __future__ import annotations

import sys

from sqlalchemy.exc import SQLAlchemyError

from dashapp.config import ConfigError, load_settings
from dashapp.db import StartupError, make_engine
from dashapp.http_errors import error_line


def database_command(args: list[str]) -> int:
    if args not in (["upgrade"], ["current"]):
        print("usage: python app.py db upgrade | db current", file=sys.stderr)
        return 2
    from dashapp import migrate

    try:
        settings = load_settings()
        engine = make_engine(settings)
        revision = migrate.upgrade(engine) if args == ["upgrade"] else migrate.current(engine)
    except (ConfigError, StartupError) as exc:
        print(f"sync-monitor: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"sync-monitor: the database refused: {error_line(exc)}", file=sys.stderr)
        return 2
    where = "SQLite main database" if settings.embedded else f"schema {settings.app_schema}"
    print(f"app schema ({where}) at revision {revision or 'none'}")
    return 0
