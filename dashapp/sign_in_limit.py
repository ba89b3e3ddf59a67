"""Sign-in attempts, limited: after SIGN_IN_MAX_FAILURES failures within SIGN_IN_WINDOW_SECONDS
from one address or for one user name, further attempts are refused (even with the right
password) until the window has passed. Counted in Redis when REDIS_URL is set, so every worker
process shares them; in this process otherwise, or while Redis does not answer.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from dashapp.config import Settings

log = logging.getLogger(__name__)
PREFIX = "sync-monitor:sign-in-failures:"


class _Local:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (count, window end)

    def wait(self, key: str, limit: int) -> float:
        with self._lock:
            count, ends = self._failures.get(key, (0, 0.0))
            left = ends - time.monotonic()
            return left if count >= limit and left > 0 else 0.0

    def fail(self, key: str, window: int) -> None:
        with self._lock:
            count, ends = self._failures.get(key, (0, 0.0))
            if ends <= time.monotonic():
                count, ends = 0, time.monotonic() + window
            self._failures[key] = (count + 1, ends)

    def clear(self, key: str | None = None) -> None:
        """Forget ``key``'s failures (all keys' when None)."""
        with self._lock:
            if key is None:
                self._failures.clear()
            else:
                self._failures.pop(key, None)


LOCAL = _Local()


def _client(settings: Settings) -> redis.Redis | None:
    if not settings.redis_url:
        return None
    return redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)


def keys(address: str | None, name: str) -> tuple[str, ...]:
    return (f"address:{address or 'unknown'}", f"user:{name.strip().lower()[:100]}")


def seconds_to_wait(settings: Settings, attempt_keys: tuple[str, ...]) -> float:
    """0 when an attempt may be made now; else how long until it may."""
    client = _client(settings)
    if client is not None:
        try:
            waits = [0.0]
            for key, count in zip(attempt_keys, client.mget([PREFIX + k for k in attempt_keys]), strict=True):
                if count is not None and int(count) >= settings.sign_in_max_failures:
                    waits.append(max(float(client.pttl(PREFIX + key)) / 1000.0, 1.0))
            return max(waits)
        except redis.RedisError as exc:
            log.warning("sign-in limit: Redis did not answer (%s); counting in this process", exc)
        finally:
            client.close()
    return max(LOCAL.wait(k, settings.sign_in_max_failures) for k in attempt_keys)


def failed(settings: Settings, attempt_keys: tuple[str, ...]) -> None:
    client = _client(settings)
    if client is not None:
        try:
            with client.pipeline() as pipe:
                for key in attempt_keys:
                    pipe.incr(PREFIX + key)
                    pipe.expire(PREFIX + key, settings.sign_in_window_seconds, nx=True)
                pipe.execute()
            return
        except redis.RedisError as exc:
            log.warning("sign-in limit: Redis did not answer (%s); counting in this process", exc)
        finally:
            client.close()
    for key in attempt_keys:
        LOCAL.fail(key, settings.sign_in_window_seconds)


def succeeded(settings: Settings, attempt_keys: tuple[str, ...]) -> None:
    """A successful sign-in clears the user name's count (the address keeps its own)."""
    user_keys = [k for k in attempt_keys if k.startswith("user:")]
    client = _client(settings)
    if client is not None:
        try:
            client.delete(*(PREFIX + k for k in user_keys))
        except redis.RedisError:
            pass
        finally:
            client.close()
    for key in user_keys:
        LOCAL.clear(key)
