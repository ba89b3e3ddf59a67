"""Sign-in attempts, limited, so that guessing is slow and nobody elsewhere can lock a user out.

- Per address and name together: after SIGN_IN_MAX_FAILURES failures, each further attempt for
  that name from that address waits, 30 s after the last failure, doubling with each failure, up to
  SIGN_IN_WINDOW_SECONDS (the right password included). Failures from another address do not
  count, so an attacker cannot lock a real user out.
- Per address: after ADDRESS_FACTOR x SIGN_IN_MAX_FAILURES failures within SIGN_IN_WINDOW_SECONDS
  (whatever the names), that address waits until the window has passed.

Counted in Redis when REDIS_URL is set, so every worker process shares them; in this process
otherwise, or while Redis does not answer.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from dashapp.config import Settings

log = logging.getLogger(__name__)
PREFIX = "sync-monitor:sign-in-failures:"
ADDRESS_FACTOR = 4
BASE_DELAY_SECONDS = 30.0


def _is_pair(key: str) -> bool:
    return key.startswith("pair:")


def wait_seconds(settings: Settings, key: str, count: int, last: float, window_end: float, now: float) -> float:
    """How long ``key`` waits after ``count`` failures, the last at ``last`` (epoch seconds)."""
    if _is_pair(key):
        if count < settings.sign_in_max_failures:
            return 0.0
        delay = min(float(settings.sign_in_window_seconds),
                    BASE_DELAY_SECONDS * 2 ** min(count - settings.sign_in_max_failures, 30))
        return max(0.0, last + delay - now)
    if count < ADDRESS_FACTOR * settings.sign_in_max_failures:
        return 0.0
    return max(0.0, window_end - now)


class _Local:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float, float]] = {}  # key -> (count, window end, last failure)

    def wait(self, settings: Settings, key: str) -> float:
        now = time.time()
        with self._lock:
            count, ends, last = self._failures.get(key, (0, 0.0, 0.0))
        return wait_seconds(settings, key, count, last, ends, now) if ends > now else 0.0

    def fail(self, key: str, window: int) -> None:
        now = time.time()
        with self._lock:
            count, ends, _ = self._failures.get(key, (0, 0.0, 0.0))
            if ends <= now:
                count, ends = 0, now + window
            if _is_pair(key):
                ends = now + window  # a pair's record lives a window after its last failure
            self._failures[key] = (count + 1, ends, now)

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
    where = address or "unknown"
    return (f"address:{where}", f"pair:{where}|{name.strip().lower()[:100]}")


def seconds_to_wait(settings: Settings, attempt_keys: tuple[str, ...]) -> float:
    """0 when an attempt may be made now; else how long until it may."""
    client = _client(settings)
    if client is not None:
        try:
            now = time.time()
            waits = [0.0]
            for key in attempt_keys:
                count, last = client.hmget(PREFIX + key, "count", "last")
                if count is None:
                    continue
                ends = now + max(float(client.pttl(PREFIX + key)), 0.0) / 1000.0
                waits.append(wait_seconds(settings, key, int(count), float(last or 0), ends, now))
            wait = max(waits)
            return max(wait, 1.0) if wait > 0 else 0.0
        except redis.RedisError as exc:
            log.warning("sign-in limit: Redis did not answer (%s); counting in this process", exc)
        finally:
            client.close()
    return max(LOCAL.wait(settings, k) for k in attempt_keys)


def failed(settings: Settings, attempt_keys: tuple[str, ...]) -> None:
    client = _client(settings)
    if client is not None:
        try:
            with client.pipeline() as pipe:
                for key in attempt_keys:
                    pipe.hincrby(PREFIX + key, "count", 1)
                    pipe.hset(PREFIX + key, "last", repr(time.time()))
                    pipe.expire(PREFIX + key, settings.sign_in_window_seconds, nx=not _is_pair(key))
                pipe.execute()
            return
        except redis.RedisError as exc:
            log.warning("sign-in limit: Redis did not answer (%s); counting in this process", exc)
        finally:
            client.close()
    for key in attempt_keys:
        LOCAL.fail(key, settings.sign_in_window_seconds)


def succeeded(settings: Settings, attempt_keys: tuple[str, ...]) -> None:
    """A successful sign-in clears its address-and-name count (the address keeps its own)."""
    pair_keys = [k for k in attempt_keys if _is_pair(k)]
    client = _client(settings)
    if client is not None:
        try:
            client.delete(*(PREFIX + k for k in pair_keys))
        except redis.RedisError:
            pass
        finally:
            client.close()
    for key in pair_keys:
        LOCAL.clear(key)
