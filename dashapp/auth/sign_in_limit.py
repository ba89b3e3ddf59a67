"""Sign-in attempts, limited, so that guessing is slow and nobody elsewhere can lock a user out.

- Per address and name together: after SIGN_IN_MAX_FAILURES failures, each further attempt for
  that name from that address waits, 30 s after the last failure, doubling with each failure, up to
  SIGN_IN_WINDOW_SECONDS (the right password included). Failures from another address do not
  count, so an attacker cannot lock a real user out.
- Per address: after ADDRESS_FACTOR x SIGN_IN_MAX_FAILURES failures within SIGN_IN_WINDOW_SECONDS
  (whatever the names), that address waits until the window has passed.

An attempt reserves its place before its password is checked (``reserve``), in one atomic step
that reads the counts, decides, and counts the attempt as a failure: a burst of concurrent attempts
gets at most as many password checks as the limit allows, and the rest wait. A right password
then takes its failure back (``succeeded``: the pair's count is cleared, the address's lowered by
one); a wrong one has already been counted.

Counted in Redis when REDIS_URL is set (one Lua script over both keys), so every worker process
shares them; else, or while Redis does not answer, in the app's ``sign_in_attempts`` table (the
rows locked for the decision); without the app's tables, or while their database does not answer,
in this process (under a lock).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from sqlalchemy.exc import SQLAlchemyError

from dashapp import runtime
from dashapp.auth.addresses import client_key
from dashapp.config import Settings
from dashapp.errors import database_problem, error_line
from queries import sign_in_attempts
from queries._sql import app_db

log = logging.getLogger(__name__)
PREFIX = "sync-monitor:sign-in-failures:"
ADDRESS_FACTOR = 4
BASE_DELAY_SECONDS = 30.0
KEY_LENGTH = 250

State = tuple[int, float, float]  # failures, window end, last failure (epoch seconds)


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


def _decide(settings: Settings, states: dict[str, State], now: float) -> tuple[float, dict[str, State]]:
    """The wait of an attempt whose keys hold ``states``; when it need not wait (0), the states
    with the attempt counted as a failure."""
    wait = max([wait_seconds(settings, key, count, last, ends, now) if ends > now else 0.0
                for key, (count, ends, last) in states.items()] + [0.0])
    if wait > 0:
        return max(wait, 1.0), {}
    window = settings.sign_in_window_seconds
    counted: dict[str, State] = {}
    for key, (count, ends, _last) in states.items():
        if ends <= now:
            count, ends = 0, now + window
        if _is_pair(key):
            ends = now + window  # a pair's record lives a window after its last failure
        counted[key] = (count + 1, ends, now)
    return 0.0, counted


@dataclass(frozen=True)
class Attempt:
    """A reservation: ``wait`` > 0 when the attempt is refused (no password check), else 0 and
    the attempt already counts as a failure in ``store`` (redis, table or process)."""

    keys: tuple[str, ...]
    wait: float
    store: str

    @property
    def refused(self) -> bool:
        return self.wait > 0


class _Local:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, State] = {}

    def reserve(self, settings: Settings, attempt_keys: tuple[str, ...], now: float) -> float:
        with self._lock:
            wait, counted = _decide(settings, {k: self._failures.get(k, (0, 0.0, 0.0)) for k in attempt_keys}, now)
            self._failures.update(counted)
        return wait

    def release(self, key: str) -> None:
        with self._lock:
            count, ends, last = self._failures.get(key, (0, 0.0, 0.0))
            if count > 0:
                self._failures[key] = (count - 1, ends, last)

    def clear(self, key: str | None = None) -> None:
        """Forget ``key``'s failures (all keys' when None)."""
        with self._lock:
            if key is None:
                self._failures.clear()
            else:
                self._failures.pop(key, None)


LOCAL = _Local()

# KEYS: the attempt's keys; ARGV: now, window, max failures, address factor, base delay, then
# "pair" or "address" per key. Returns the wait as text ("0": reserved and counted).
_RESERVE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local most, factor, base = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local wait = 0
for i, key in ipairs(KEYS) do
  local held = redis.call('HMGET', key, 'count', 'last')
  local count = tonumber(held[1])
  if count then
    local w = 0
    if ARGV[5 + i] == 'pair' then
      if count >= most then
        w = (tonumber(held[2]) or 0) + math.min(window, base * 2 ^ math.min(count - most, 30)) - now
      end
    elseif count >= factor * most then
      w = math.max(redis.call('PTTL', key), 0) / 1000
    end
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'count', 1)
  redis.call('HSET', key, 'last', ARGV[1])
  if ARGV[5 + i] == 'pair' or redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, window) end
end
return '0'
"""
# KEYS: address keys whose reserved attempt did not fail: one less, where the count still lives.
_RELEASE = """
for _, key in ipairs(KEYS) do
  if (tonumber(redis.call('HGET', key, 'count')) or 0) > 0 then redis.call('HINCRBY', key, 'count', -1) end
end
return 0
"""


def _client(settings: Settings) -> redis.Redis | None:
    if not settings.redis_url:
        return None
    return redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)


def keys(address: str | None, name: str) -> tuple[str, ...]:
    """The attempt's keys: its client (an IPv6 client by its /64, ``addresses.client_key``), and
    its client and name together."""
    where = client_key(address)
    return (f"address:{where}", f"pair:{where}|{name.strip().lower()[:100]}")


def reserve(settings: Settings, attempt_keys: tuple[str, ...], now: float | None = None) -> Attempt:
    """Reserve an attempt before its password is checked (``now``: epoch seconds, for tests)."""
    now = time.time() if now is None else now
    client = _client(settings)
    if client is not None:
        try:
            kinds = ["pair" if _is_pair(k) else "address" for k in attempt_keys]
            answer = client.eval(_RESERVE, len(attempt_keys), *(PREFIX + k for k in attempt_keys), repr(now),
                                 settings.sign_in_window_seconds, settings.sign_in_max_failures, ADDRESS_FACTOR,
                                 BASE_DELAY_SECONDS, *kinds)
            wait = float(answer)
            return Attempt(attempt_keys, max(wait, 1.0) if wait > 0 else 0.0, "redis")
        except redis.RedisError as exc:
            log.warning("sign-in limit: Redis did not answer (%s); counting in the app's tables", exc)
        finally:
            client.close()
    wait = _reserve_in_table(settings, attempt_keys, now)
    if wait is not None:
        return Attempt(attempt_keys, wait, "table")
    return Attempt(attempt_keys, LOCAL.reserve(settings, attempt_keys, now), "process")


def _naive(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def _epoch(moment: datetime | None) -> float:
    return moment.replace(tzinfo=UTC).timestamp() if moment is not None else 0.0


def _reserve_in_table(settings: Settings, attempt_keys: tuple[str, ...], now: float) -> float | None:
    """The wait, decided on the rows locked in the app's table; None when the table cannot be used."""
    engine = runtime.current.engine
    if engine is None:
        return None
    try:
        with app_db(engine).begin() as conn:
            rows = sign_in_attempts.locked(conn, list(attempt_keys))
            wait, counted = _decide(settings, {k: (count, _epoch(ends), _epoch(last))
                                               for k, (count, ends, last) in rows.items()}, now)
            sign_in_attempts.store(conn, {k: (count, _naive(ends), _naive(last))
                                          for k, (count, ends, last) in counted.items()})
        sign_in_attempts.forget_ended(engine, _naive(now))
        return wait
    except SQLAlchemyError as exc:
        if database_problem(exc).kind == "missing_table":
            log.debug("sign-in limit: no app tables (%s); counting in this process", error_line(exc))
        else:
            log.warning("sign-in limit: the app's database did not answer (%s); counting in this process",
                        error_line(exc))
        return None


def succeeded(settings: Settings, attempt: Attempt) -> None:
    """The right password: its reservation is not a failure. The address-and-name count is
    cleared; the address's own count is lowered by the one reserved."""
    pair_keys = [k for k in attempt.keys if _is_pair(k)]
    address_keys = [k for k in attempt.keys if not _is_pair(k)]
    if attempt.store == "redis":
        client = _client(settings)
        if client is not None:
            try:
                client.delete(*(PREFIX + k for k in pair_keys))
                client.eval(_RELEASE, len(address_keys), *(PREFIX + k for k in address_keys))
            except redis.RedisError:
                pass
            finally:
                client.close()
    elif attempt.store == "table":
        try:
            sign_in_attempts.forget(runtime.engine(), pair_keys)
            for key in address_keys:
                sign_in_attempts.release(runtime.engine(), key)
        except SQLAlchemyError as exc:
            log.warning("sign-in limit: cannot clear the count of a sign-in (%s)", error_line(exc))
    for key in pair_keys:
        LOCAL.clear(key)
    if attempt.store == "process":
        for key in address_keys:
            LOCAL.release(key)
