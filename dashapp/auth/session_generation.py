"""Per-user session generations: signing out advances the user's generation, and a session
cookie made in an older generation is signed out, so a cookie copied before sign-out stops working
(in every worker process at once).

Kept in Redis when REDIS_URL is set (``sync-monitor:session-generation:<name>``), else in the
app's ``session_generations`` table. Without the app's tables (a read-only warehouse where
``db upgrade`` never ran: the table does not exist), every user is at generation 0: sessions still
work, and end only when they expire, the user is removed, or their password or role changes
(``auth.entry_fingerprint``). When the store exists but cannot answer (Redis down, the table's
database erroring), the generation is unknown (``Unknown``): revocation fails closed, and
``users.current_user`` reads the session as a viewer whose actions are paused.
"""

from __future__ import annotations

import logging

import redis
from sqlalchemy.exc import SQLAlchemyError

from dashapp import runtime
from dashapp.config import Settings
from dashapp.errors import database_problem, error_line
from queries import session_generations
from queries.clock import utc_now

log = logging.getLogger(__name__)
PREFIX = "sync-monitor:session-generation:"


def _redis(settings: Settings) -> redis.Redis | None:
    if not settings.redis_url:
        return None
    return redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)


class Unknown(Exception):
    """The generation store cannot answer; ``store`` names it ("Redis", "the app's database")."""

    def __init__(self, store: str) -> None:
        super().__init__(store)
        self.store = store

    @property
    def paused(self) -> str:
        """Why actions are paused, for the refusal and the pages' read-only note."""
        return f"sign-outs cannot be checked right now ({self.store} unavailable); actions are paused"


def _read(settings: Settings, name: str) -> int:
    client = _redis(settings)
    if client is not None:
        try:
            value = client.get(PREFIX + name)
            return int(value) if value is not None else 0
        except redis.RedisError as exc:
            log.warning("session generation of %s: Redis did not answer (%s); actions are paused", name, exc)
            raise Unknown("Redis") from exc
        finally:
            client.close()
    try:
        return session_generations.generation(runtime.engine(), name)
    except SQLAlchemyError as exc:
        if database_problem(exc).kind == "missing_table":  # no app tables (a read-only warehouse): generation 0
            log.debug("session generation of %s: no app tables (%s)", name, error_line(exc))
            return 0
        log.warning("session generation of %s: the app's database did not answer (%s); actions are paused", name,
                    error_line(exc))
        raise Unknown("the app's database") from exc


def current(settings: Settings, name: str) -> int:
    """``name``'s session generation: one Redis GET or one primary-key SELECT, read whenever a
    request's user is looked up (actions and page layouts, not every refresh). Raises ``Unknown``
    when the store cannot answer."""
    return _read(settings, name)


def advance(settings: Settings, name: str) -> int | None:
    """End every session of ``name``; returns the new generation, or None when it cannot be kept
    (logged: the sessions then last until they expire)."""
    value: int | None = None
    client = _redis(settings)
    if client is not None:
        try:
            value = int(client.incr(PREFIX + name))
        except redis.RedisError as exc:
            log.warning("cannot end the sessions of %s: Redis did not answer (%s)", name, exc)
        finally:
            client.close()
    else:
        value = _advance_in_table(name)
    return value


def _advance_in_table(name: str) -> int | None:
    try:
        return session_generations.advance(runtime.engine(), name, utc_now().replace(tzinfo=None))
    except SQLAlchemyError as exc:
        log.warning("cannot end the sessions of %s (run `python app.py db upgrade`): %s", name,
                    str(exc).splitlines()[0])
        return None
