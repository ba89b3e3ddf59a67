"""Per-user session generations: signing out advances the user's generation, and a session
cookie made in an older generation is signed out, so a cookie copied before sign-out stops working
(in every worker process at once).

Kept in Redis when REDIS_URL is set (``sync-monitor:session-generation:<name>``), else in the
app's ``session_generations`` table. Where neither answers (a read-only warehouse without the
app's tables), every user is at generation 0: sessions still work, and end only when they expire,
the user is removed, or their password or role changes (``auth.entry_fingerprint``).
"""

from __future__ import annotations

import logging

import redis
from sqlalchemy.exc import SQLAlchemyError

from dashapp import runtime
from dashapp.config import Settings
from queries import session_generations
from queries._sql import utc_now

log = logging.getLogger(__name__)
PREFIX = "sync-monitor:session-generation:"


def _redis(settings: Settings) -> redis.Redis | None:
    if not settings.redis_url:
        return None
    return redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)


def _read(settings: Settings, name: str) -> int:
    client = _redis(settings)
    if client is not None:
        try:
            value = client.get(PREFIX + name)
            return int(value) if value is not None else 0
        except redis.RedisError as exc:
            log.warning("session generation of %s: Redis did not answer (%s)", name, exc)
            return 0
        finally:
            client.close()
    try:
        return session_generations.generation(runtime.engine(), name)
    except SQLAlchemyError as exc:  # no app tables (a read-only warehouse): generation 0
        log.debug("session generation of %s unavailable: %s", name, exc)
        return 0


def current(settings: Settings, name: str) -> int:
    """``name``'s session generation: one Redis GET or one primary-key SELECT, read whenever a
    request's user is looked up (actions and page layouts, not every refresh)."""
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
