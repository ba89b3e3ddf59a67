"""A short shared cache in front of the payloads the pages and the API serve, so that N viewers
refreshing the same page cost about one set of queries per CACHE_SECONDS, whatever N is.

``@shared("stats")`` on a payload function ``f(engine, *params, now)`` keys its result by the
name, the database and the parameters (not ``now``; but a moment in the past, a view's ``at``, is a
parameter: ``_parameters``), and keeps it CACHE_SECONDS (default a third
of REFRESH_SECONDS; 0 turns the cache off). In Redis when REDIS_URL is set, so every worker process
shares it, and one process computes while the others wait briefly for its answer; in this process
otherwise. Any cache failure falls through to the database, never to an error.

A result is kept as JSON text; a pandas DataFrame in it is kept as its split form and read back
as a DataFrame (``_dumps``/``_loads``), so a payload returns its frames as they are and every
reader, the computing one included, gets the same columns and values.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import redis

from dashapp import runtime
from queries.clock import utc_now

log = logging.getLogger(__name__)
PREFIX = "sync-monitor:result:v2:"  # v2: {"value", "frames"}
WAIT_SECONDS = 2.0  # how long a process waits for another's answer before computing itself
COMPUTED: dict[str, int] = {}  # name -> computations in this process (the benchmark and tests read it)

_local: dict[str, tuple[float, Any]] = {}
_local_lock = threading.Lock()
_key_locks: dict[str, threading.Lock] = {}
_clients: dict[str, redis.Redis] = {}
_redis_down_until: dict[str, float] = {}  # Redis URL -> after an error, skip it until then instead of waiting
DOWN_SECONDS = 5.0


def _client(url: str) -> redis.Redis:
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return _clients[url]


def _key(name: str, engine: Any, params: tuple) -> str:
    where = f"{engine.url.render_as_string(hide_password=True)}|{engine.get_execution_options().get('sync_schema')}"
    digest = hashlib.sha1(json.dumps([where, params], default=str).encode()).hexdigest()
    return f"{name}:{digest}"


LIVE = timedelta(seconds=5)  # a time this close to now is the live "now", not a view's ``at``


def _parameters(args: tuple, kwargs: dict) -> tuple:
    """What keys a call: its arguments but the live ``now`` (a time within LIVE of now), so every
    viewer of the present shares one answer; a time further back (a view as of ``at``) keys it."""
    live_after = utc_now() - LIVE
    kept = tuple(a.isoformat() if isinstance(a, datetime) else a for a in args
                 if not (hasattr(a, "tzinfo") and (not isinstance(a, datetime) or _aware(a) >= live_after)))
    return kept + tuple(sorted(kwargs.items()))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=utc_now().tzinfo)


def clear() -> None:
    """Forget every cached result in this process (tests)."""
    with _local_lock:
        _local.clear()


Path = tuple[str | int, ...]


def _without_frames(value: Any, path: Path, found: list[Path]) -> Any:
    """``value`` with each DataFrame in its dicts and lists put in split form, its path noted."""
    if isinstance(value, pd.DataFrame):
        found.append(path)
        return value.to_dict(orient="split", index=False)
    if isinstance(value, dict):
        return {key: _without_frames(item, (*path, key), found) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_frames(item, (*path, n), found) for n, item in enumerate(value)]
    return value


def _dumps(value: Any) -> tuple[str, bool]:
    """JSON text of ``value`` and where its DataFrames were (paths of our own: the data inside,
    which may hold anything the warehouse stores, is never read as a marker), and whether it had any."""
    found: list[Path] = []
    plain = _without_frames(value, (), found)
    return json.dumps({"value": plain, "frames": found}), bool(found)


def _loads(text: str | bytes) -> Any:
    stored = json.loads(text)
    value = stored["value"]
    for path in stored["frames"]:
        if not path:
            return pd.DataFrame(value["data"], columns=value["columns"])
        holder = value
        for step in path[:-1]:
            holder = holder[step]
        table = holder[path[-1]]
        holder[path[-1]] = pd.DataFrame(table["data"], columns=table["columns"])
    return value


def _compute(name: str, compute: Callable[[], Any]) -> tuple[Any, str | None]:
    """The value, and its JSON text when it has one (only JSON is cached: every reader then gets
    its own copy, the same from Redis as from this process; a value with DataFrames is read back
    from its text here too, so the computing reader gets what the others will)."""
    COMPUTED[name] = COMPUTED.get(name, 0) + 1
    value = compute()
    try:
        text, with_frames = _dumps(value)
    except (TypeError, ValueError):
        log.debug("result cache: %s is not JSON, not cached", name)
        return value, None
    return (_loads(text) if with_frames else value), text


def _from_redis(url: str, key: str, ttl: float, name: str, compute: Callable[[], Any]) -> Any:
    client = _client(url)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        cached = client.get(PREFIX + key)
        if cached is not None:
            return _loads(cached)
        if client.set(PREFIX + key + ":lock", "1", nx=True, px=int(WAIT_SECONDS * 1000)):
            cached = client.get(PREFIX + key)  # the holder before us may have finished since our first look
            if cached is not None:
                client.delete(PREFIX + key + ":lock")
                return _loads(cached)
            try:
                value, text = _compute(name, compute)
            except Exception:  # the database failed: let the next viewer try at once, not after the lock
                with contextlib.suppress(redis.RedisError):
                    client.delete(PREFIX + key + ":lock")
                raise
            try:
                if text is not None:
                    client.set(PREFIX + key, text, px=max(int(ttl * 1000), 1))
                client.delete(PREFIX + key + ":lock")
            except redis.RedisError as exc:
                log.debug("result cache write skipped: %s", exc)
            return value
        if time.monotonic() > deadline:
            return _compute(name, compute)[0]
        time.sleep(0.02)


def _from_process(key: str, ttl: float, name: str, compute: Callable[[], Any]) -> Any:
    with _local_lock:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:  # one computation per key at a time; the others then find its result
        with _local_lock:
            hit = _local.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return _loads(hit[1])
        value, text = _compute(name, compute)
        if text is not None:
            with _local_lock:
                _local[key] = (time.monotonic() + ttl, text)
        return value


def shared(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def cached(engine, *args: Any, **kwargs: Any) -> Any:
            settings = runtime.current.settings
            if settings is None or settings.cache_seconds <= 0:
                COMPUTED[name] = COMPUTED.get(name, 0) + 1
                return function(engine, *args, **kwargs)
            key = _key(name, engine, _parameters(args, kwargs))

            def compute() -> Any:
                return function(engine, *args, **kwargs)

            url = settings.redis_url
            if url and time.monotonic() >= _redis_down_until.get(url, 0.0):
                try:
                    return _from_redis(url, key, settings.cache_seconds, name, compute)
                except redis.RedisError as exc:
                    _redis_down_until[url] = time.monotonic() + DOWN_SECONDS
                    log.warning("result cache: Redis did not answer (%s); this process's own cache for %.0f s",
                                exc, DOWN_SECONDS)
            return _from_process(key, settings.cache_seconds, name, compute)
        return cached
    return wrap
