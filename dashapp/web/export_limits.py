"""How many history exports run at once, and how long a reader may stall one.

An export holds a server thread for as long as it streams. So that a few clients cannot hold
them all (16 sockets that ask for everything and never read once stalled gunicorn's 2 x 8):

- **Per client** (``request.remote_addr``, the proxy's ``X-Forwarded-For`` with BEHIND_PROXY):
  PER_CLIENT exports at once; a further one is a 429 with ``Retry-After``.
- **Wide exports without sign-in**: where users are configured, a visitor who is not signed in
  may run ANONYMOUS_WIDE_PER_CLIENT export at a time that spans everything (``range=all``, no
  start, or a window over WIDE_DAYS days); a day or a month of history stays as open as the
  history page itself. Without users the app is everyone's, and only the per-client limit holds.
- **Per process**: at most ``WEB_THREADS - FREE_THREADS`` exports stream at once in one worker
  process, so /healthz and the pages always find a thread; a further one is a 503.

The per-client counts are kept in Redis when REDIS_URL is set (every worker process shares them),
each slot a member of a sorted set scored by when its lease ends: a worker that is killed
mid-export leaks its slot for LEASE_SECONDS at most (a streaming export renews its lease every
RENEW_SECONDS). Without Redis, or while it does not answer, they are counted in this process.

The write deadline (EXPORT_WRITE_TIMEOUT_SECONDS) is a timeout on the client's socket, which
gunicorn's gthread worker passes as ``environ["gunicorn.socket"]`` and the dev server as
``environ["werkzeug.socket"]``: both write a response with ``sendall`` (a file with
``socket.sendfile``), which then raises ``TimeoutError`` once the client has not taken a chunk for
that long; the server closes the connection, the response's ``close`` ends the query and frees the
slot. (gunicorn logs it as "Socket error processing request".)
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis

from dashapp.auth.addresses import client_key
from dashapp.config import Settings

log = logging.getLogger(__name__)
PREFIX = "sync-monitor:export-slots:"
PER_CLIENT = 2
ANONYMOUS_WIDE_PER_CLIENT = 1
WIDE_DAYS = 31
FREE_THREADS = 2
LEASE_SECONDS = 120.0
RENEW_SECONDS = 20.0
RETRY_AFTER_SECONDS = 10
DOWN_SECONDS = 5.0

# KEYS: the slot sets; ARGV: now (ms), lease end (ms), token, then each key's limit. Returns 0 and
# takes a slot in every set, or the 1-based index of the first set that is full.
_TAKE = """
for i, key in ipairs(KEYS) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
    if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then return i end
end
for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, ARGV[2], ARGV[3])
    redis.call('PEXPIREAT', key, ARGV[2])
end
return 0
"""


class ExportRefused(Exception):
    """An export that may not start now: ``status`` (429 or 503), ``limit`` (its name), why."""

    def __init__(self, status: int, limit: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.limit = limit
        self.message = message
        self.retry_after = RETRY_AFTER_SECONDS

    def body(self) -> dict:
        return {"error": f"export: {self.message}", "limit": self.limit, "retry_after": self.retry_after}


@dataclass(frozen=True)
class Limit:
    key: str  # the sorted set's key, after PREFIX
    most: int
    name: str  # as the 429 names it
    message: str


def wide(start: datetime | None, end: datetime | None, now: datetime) -> bool:
    """Whether an export spans everything: no start (``range=all``, impossible times), or a window
    of more than WIDE_DAYS days."""
    return start is None or (end or now) - start > timedelta(days=WIDE_DAYS)


def limits(address: str | None, anonymous_wide: bool) -> list[Limit]:
    where = client_key(address)  # an IPv6 client by its /64
    found = [Limit(f"client:{where}", PER_CLIENT, "exports_per_client",
                   f"at most {PER_CLIENT} exports at once per client; wait for one to finish")]
    if anonymous_wide:
        found.append(Limit(f"anonymous-wide:{where}", ANONYMOUS_WIDE_PER_CLIENT, "anonymous_wide_exports",
                           f"without sign-in, {ANONYMOUS_WIDE_PER_CLIENT} export of all history (range=all or over "
                           f"{WIDE_DAYS} days) at a time per client; sign in, narrow the range, or wait"))
    return found


class _LocalSlots:
    """The slot sets of this process (no Redis, or Redis not answering)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, dict[str, float]] = {}

    def take(self, wanted: list[Limit], token: str, until: float) -> Limit | None:
        now = time.time()
        with self._lock:
            for limit in wanted:
                members = self._sets.setdefault(limit.key, {})
                for old in [t for t, ends in members.items() if ends <= now]:
                    del members[old]
                if len(members) >= limit.most:
                    return limit
            for limit in wanted:
                self._sets[limit.key][token] = until
        return None

    def renew(self, keys: list[str], token: str, until: float) -> None:
        with self._lock:
            for key in keys:
                if token in self._sets.get(key, {}):
                    self._sets[key][token] = until

    def give_back(self, keys: list[str], token: str) -> None:
        with self._lock:
            for key in keys:
                members = self._sets.get(key, {})
                members.pop(token, None)
                if not members:
                    self._sets.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()

    def held(self, key: str) -> int:
        """Slots of ``key`` held now (tests, the log)."""
        now = time.time()
        with self._lock:
            return sum(1 for ends in self._sets.get(key, {}).values() if ends > now)


LOCAL = _LocalSlots()
_clients: dict[str, redis.Redis] = {}
_redis_down_until: dict[str, float] = {}


def _redis(settings: Settings) -> redis.Redis | None:
    url = settings.redis_url
    if not url or time.monotonic() < _redis_down_until.get(url, 0.0):
        return None
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return _clients[url]


def _redis_failed(settings: Settings, exc: Exception) -> None:
    if settings.redis_url:
        _redis_down_until[settings.redis_url] = time.monotonic() + DOWN_SECONDS
    log.warning("export limits: Redis did not answer (%s); counting in this process for %.0f s", exc, DOWN_SECONDS)


# This process's streaming exports: a set like the others (a lease, so a response the server never
# closed frees its place after LEASE_SECONDS), never in Redis, since the threads are this process's.
PROCESS = _LocalSlots()
PROCESS_KEY = "process"


def process_most(settings: Settings) -> int:
    return max(1, settings.web_threads - FREE_THREADS)


@dataclass
class Slot:
    """One running export's places: given back once, when its response closes."""

    settings: Settings
    keys: list[str]
    token: str
    in_redis: bool
    renewed: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _done: bool = False

    def renew(self) -> None:
        """Extend the lease (cheap to call often: it talks to Redis every RENEW_SECONDS at most)."""
        if self._done or time.monotonic() - self.renewed < RENEW_SECONDS:
            return
        self.renewed = time.monotonic()
        until = time.time() + LEASE_SECONDS
        PROCESS.renew([PROCESS_KEY], self.token, until)
        if self.in_redis:
            client = _redis(self.settings)
            if client is None:
                return
            try:
                with client.pipeline() as pipe:
                    for key in self.keys:
                        pipe.zadd(PREFIX + key, {self.token: until * 1000}, xx=True)
                        pipe.pexpireat(PREFIX + key, int(until * 1000))
                    pipe.execute()
            except redis.RedisError as exc:
                _redis_failed(self.settings, exc)
        else:
            LOCAL.renew(self.keys, self.token, until)

    def release(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        PROCESS.give_back([PROCESS_KEY], self.token)
        if self.in_redis:
            client = _redis(self.settings)
            try:
                if client is not None:
                    with client.pipeline() as pipe:
                        for key in self.keys:
                            pipe.zrem(PREFIX + key, self.token)
                        pipe.execute()
            except redis.RedisError as exc:  # the lease ends on its own
                _redis_failed(self.settings, exc)
        else:
            LOCAL.give_back(self.keys, self.token)


def acquire(settings: Settings, address: str | None, anonymous_wide: bool) -> Slot:
    """A slot for one export from ``address``, or ExportRefused naming the limit that is full."""
    most = process_most(settings)
    token = uuid.uuid4().hex
    until = time.time() + LEASE_SECONDS
    if PROCESS.take([Limit(PROCESS_KEY, most, "", "")], token, until) is not None:
        refused = ExportRefused(503, "exports_per_process",
                                f"the server is streaming {most} exports already; try again shortly")
        log.warning("export refused: %s", refused.message)
        raise refused
    try:
        wanted = limits(address, anonymous_wide)
        client = _redis(settings)
        full: Limit | None = None
        in_redis = False
        if client is not None:
            try:
                keys = [PREFIX + limit.key for limit in wanted]
                found = int(client.eval(_TAKE, len(keys), *keys, int(time.time() * 1000), int(until * 1000), token,
                                        *(limit.most for limit in wanted)))
                full = wanted[found - 1] if found else None
                in_redis = True
            except redis.RedisError as exc:
                _redis_failed(settings, exc)
        if not in_redis:
            full = LOCAL.take(wanted, token, until)
        if full is not None:
            raise ExportRefused(429, full.name, full.message)
    except BaseException:
        PROCESS.give_back([PROCESS_KEY], token)
        raise
    return Slot(settings, [limit.key for limit in wanted], token, in_redis)
