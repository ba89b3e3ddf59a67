"""The running app's settings and database engine, set by ``dashapp.startup.create_app``.

Page callbacks and API routes read them here instead of at import time, so a test can point the
one Dash app of its process at the database it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from dashapp.config import Settings


@dataclass
class Runtime:
    settings: Settings | None = None
    engine: Engine | None = None


current = Runtime()


@dataclass
class DemoProgress:
    """How far the embedded demo's backfill is, for the console and the pages' banner
    (``dashapp.web.components.demo_banner``); written by ``dashapp.startup``."""
    days_done: int = 0
    days: int = 0
    runs: int = 0
    filling: bool = False
    error: str | None = None


demo_progress = DemoProgress()


def engine() -> Engine:
    if current.engine is None:
        raise RuntimeError("the app has no database engine yet; call create_app first")
    return current.engine


def settings() -> Settings:
    if current.settings is None:
        raise RuntimeError("the app has no settings yet; call create_app first")
    return current.settings


def href(path: str) -> str:
    """``path`` (an app path such as ``/runs/7`` or ``/history?range=all``) as browsers request it:
    under the running app's URL_PREFIX; as it is when no app runs in this process (a script)."""
    return current.settings.href(path) if current.settings is not None else path
