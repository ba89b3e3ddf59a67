"""System health: the three probes run at once, answered within a deadline, cached briefly and
shared between viewers and server processes.

- Each probe runs in a thread of its own; one still running from an earlier call (same probe,
  same target) is waited on again, never started twice, so a hung broker costs one thread, not
  one per viewer.
- The answer comes within HEALTH_TIMEOUT_SECONDS (+ a little): a probe that has not answered by
  then is reported ``unhealthy`` with "no answer within ...".
- Results are kept HEALTH_CACHE_SECONDS: in Redis when REDIS_URL is set (every process reads the
  same snapshot, and a short lock lets one process probe while the others wait for its result),
  otherwise in the process. After that window the last snapshot is still served, at once, while
  one background probe round replaces it (stale-while-revalidate), so only the very first viewer
  waits for a slow broker. A cache that fails is skipped, never an error.
- Each probe round records the services whose status changed since the last one recorded
  (``queries.health_changes``, the timeline's ``health_changed``): a write that fails (the table not
  made yet) is logged and skipped; while the database probe fails, nothing is written (no page waits
  on a database that is down) and the round is written, at its own time, once the database answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from concurrent.futures import Future, wait
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashapp import display
from dashapp.config import Settings
from dashapp.errors import error_line
from dashapp.health import probes as health_probes
from queries import health_changes
from queries.clock import utc_now

log = logging.getLogger(__name__)
CACHE_KEY = "sync_monitor:health:v2"
LOCK_KEY = "sync_monitor:health:lock"
CACHE_IO_TIMEOUT = 0.2  # seconds for one cache read or write

_in_flight: dict[str, Future] = {}
_in_flight_lock = threading.Lock()
_local: dict[str, Any] = {"at": 0.0, "value": None}  # at: time.time() of the probe round
_local_lock = threading.Lock()
_background = threading.Lock()  # held while this process refreshes in the background
STALE_WINDOWS = 12  # how many cache windows old a snapshot may be and still be shown while refreshed


def _submit(name: str, function, *args) -> Future:
    """Run ``function(*args)``, or join the same probe of the same target still running."""
    key = f"{name}|{args!r}"
    with _in_flight_lock:
        running = _in_flight.get(key)
        if running is not None and not running.done():
            return running
        for stale in [k for k, f in _in_flight.items() if f.done()]:
            del _in_flight[stale]
        future: Future = Future()
        _in_flight[key] = future

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiter
                future.set_exception(exc)

    # A thread per probe run, not a pool: a pool whose threads die (killed, or stuck past any
    # deadline) keeps counting them and would queue every later probe forever. The in-flight
    # table above bounds the threads to one per probe and target.
    threading.Thread(target=run, name=f"health-probe-{name}", daemon=True).start()
    return future


def probe_all(settings: Settings, engine: Engine) -> dict:
    """Run the three probes now, concurrently; every answer within the deadline."""
    timeout = settings.health_timeout_seconds
    futures = {
        "database": _submit("database", health_probes.database, engine),
        "impossible_times": _submit("impossible_times", health_probes.impossible_times, engine),
        "redis": _submit("redis", health_probes.redis_probe, settings.redis_url, timeout / 2),
        "celery": _submit("celery", health_probes.celery_probe, settings.celery_broker_url,
                          settings.probed_queues, timeout, settings.celery_queue_warn, settings.celery_queue_critical),
    }
    wait(futures.values(), timeout=timeout + 0.3)
    snapshot: dict[str, Any] = {}
    for name, future in futures.items():
        if future.done():
            try:
                snapshot[name] = future.result()
            except Exception as exc:  # noqa: BLE001 - probes do not raise; this is a last guard
                snapshot[name] = {"status": health_probes.UNHEALTHY, "error": f"probe failed: {exc}"}
        else:
            snapshot[name] = {"status": health_probes.UNHEALTHY,
                              "error": f"no answer within {timeout + 0.3:.1f} s"}
    checked = utc_now()
    snapshot["checked_at"] = display.iso_utc(checked)
    record_changes(engine, snapshot, checked)
    return snapshot


RECORDED = ("database", "impossible_times", "redis", "celery")  # the services whose changes are kept
RECORDED_STATUSES = (health_probes.HEALTHY, health_probes.DEGRADED, health_probes.UNHEALTHY)
MAX_PENDING = 20  # probe rounds kept while the database does not answer
_pending: dict[str, list[tuple[datetime, dict, dict]]] = {}  # per database: rounds not written yet
_pending_lock = threading.Lock()


def record_changes(engine: Engine, snapshot: dict, at: datetime) -> None:
    """Write the services' status changes seen in ``snapshot`` (at ``at``); never raises. While the
    database probe fails, the round is kept in the process (the last MAX_PENDING distinct ones) and
    written, at its own time, by the first round that finds the database answering: no write waits
    on a database that is down, and its outage is still recorded."""
    seen = {name: snapshot[name] for name in RECORDED
            if isinstance(snapshot.get(name), dict) and snapshot[name].get("status") in RECORDED_STATUSES}
    if not seen:
        return
    statuses = {name: value["status"] for name, value in seen.items()}
    details = {name: value.get("error") for name, value in seen.items()}
    key = repr(engine.url)
    with _pending_lock:
        rounds = _pending.setdefault(key, [])
        if not rounds or rounds[-1][1] != statuses:
            rounds.append((at, statuses, details))
            del rounds[:-MAX_PENDING]
        if statuses.get("database") == health_probes.UNHEALTHY:
            return
        waiting = list(rounds)
    try:
        for when, seen_statuses, seen_details in waiting:
            health_changes.record_changes(engine, when, seen_statuses, seen_details)
    except Exception as exc:  # noqa: BLE001 - the health page never breaks on its record (debug: before
        # `db upgrade` every round would say it)
        log.debug("health changes not recorded: %s", str(exc).splitlines()[0][:200] if str(exc) else exc)
        return
    with _pending_lock:
        _pending[key] = [r for r in _pending.get(key, []) if not any(r is w for w in waiting)]


RECORDED_NOTE = ("as the app recorded it: each service's status changes are kept (health_changes), "
                 "not its figures, so only statuses are shown")


def recorded_health(engine: Engine, at: datetime) -> dict:
    """The services as of ``at``: each recorded service's status as last recorded at or before it
    (``unknown`` before its first record), no figures; ``as_of`` and ``note`` say so. A database
    that cannot be read leaves every status unknown and says why in ``error``."""
    try:
        statuses = health_changes.status_at(engine, at)
        error = None
    except SQLAlchemyError as exc:  # the detail to the log: anyone may read this answer
        log.warning("recorded health as of %s could not be read: %s", display.iso_utc(at), error_line(exc))
        statuses, error = {}, "the recorded health could not be read: database unavailable"
    found: dict[str, Any] = {name: {"status": statuses.get(name, "unknown")} for name in RECORDED}
    return {**found, "as_of": display.iso_utc(at), "checked_at": None, "note": RECORDED_NOTE,
            **({"error": error} if error else {})}


def system_health(settings: Settings, engine: Engine) -> dict:
    """The services' snapshot (``services_health``) and this process's own figures, read now
    (``app``: they are the answering process's, so never cached or shared)."""
    app = health_probes.app_probe(settings.sqlite_path.parent if settings.embedded else None)
    return {**services_health(settings, engine), "app": app}


def services_health(settings: Settings, engine: Engine) -> dict:
    """The services' health snapshot: a fresh one from the shared cache; else the last one (up to
    STALE_WINDOWS cache windows old) at once while one probe round refreshes it in the background,
    so no viewer waits on a slow broker; else (the first call) a probe round now."""
    ttl = settings.health_cache_seconds
    if ttl <= 0:
        return probe_all(settings, engine)
    client = _cache_client(settings)
    keys = _keys(engine, settings)
    at, snapshot = _cached(client, keys)
    if snapshot is not None and time.time() - at < ttl:
        return snapshot
    if snapshot is not None:
        _refresh_in_background(settings, engine, client, keys)
        return snapshot
    return _refresh(settings, engine, client, keys)


def _cached(client, keys: tuple[str, str]) -> tuple[float, dict | None]:
    """(when it was probed, the snapshot): the shared one, else this process's own."""
    shared = _shared_read(client, keys) if client is not None else None
    if shared is not None:
        return shared["at"], shared["snapshot"]
    with _local_lock:
        return (_local["at"], _local["value"]) if _local.get("key") == keys[0] else (0.0, None)


def _refresh(settings: Settings, engine: Engine, client, keys: tuple[str, str]) -> dict:
    if client is not None and not _shared_lock(client, keys, settings):
        deadline = time.monotonic() + settings.health_timeout_seconds + 0.5  # another process probes: wait for it
        while time.monotonic() < deadline:
            time.sleep(0.05)
            shared = _shared_read(client, keys)
            if shared is not None and time.time() - shared["at"] < settings.health_cache_seconds:
                return shared["snapshot"]
    with _local_lock:  # one probe round per process at a time; the others take its answer
        if _local.get("key") == keys[0] and time.time() - _local["at"] < settings.health_cache_seconds:
            return _local["value"]
        snapshot = probe_all(settings, engine)
        _local.update(at=time.time(), value=snapshot, key=keys[0])
    _share(client, keys, snapshot, settings)
    return snapshot


def _refresh_in_background(settings: Settings, engine: Engine, client, keys: tuple[str, str]) -> None:
    """One refresh thread per process at a time, and (with Redis) one process at a time."""
    if not _background.acquire(blocking=False):
        return
    if client is not None and not _shared_lock(client, keys, settings):
        _background.release()
        return

    def run() -> None:
        try:
            _probe_and_share(settings, engine, client, keys)
        except Exception as exc:  # noqa: BLE001 - a background refresh never raises into a request
            log.warning("health refresh failed: %s", exc)
        finally:
            _background.release()

    threading.Thread(target=run, name="health-refresh", daemon=True).start()


def _probe_and_share(settings: Settings, engine: Engine, client, keys: tuple[str, str]) -> None:
    snapshot = probe_all(settings, engine)
    with _local_lock:
        _local.update(at=time.time(), value=snapshot, key=keys[0])
    _share(client, keys, snapshot, settings)


def _share(client, keys: tuple[str, str], snapshot: dict, settings: Settings) -> None:
    """Into Redis, unless Redis is what failed (its snapshot could not be read back anyway)."""
    if client is not None and snapshot["redis"].get("status") != health_probes.UNHEALTHY:
        _shared_write(client, keys, snapshot, settings.health_cache_seconds * STALE_WINDOWS)


def _keys(engine: Engine, settings: Settings) -> tuple[str, str]:
    """Cache and lock keys of this database and these services, so installations sharing a Redis
    stay apart (and a snapshot never answers for other services)."""
    where = (f"{engine.url!r}|{engine.get_execution_options().get('sync_schema')}|{settings.redis_url}"
             f"|{settings.celery_broker_url}|{settings.probed_queues}")
    name = hashlib.sha1(where.encode()).hexdigest()
    return f"{CACHE_KEY}:{name[:12]}", f"{LOCK_KEY}:{name[:12]}"


def _cache_client(settings: Settings):
    if not settings.redis_url:
        return None
    return health_probes.redis_client(settings.redis_url, CACHE_IO_TIMEOUT)


def _shared_read(client, keys: tuple[str, str]) -> dict | None:
    try:
        raw = client.get(keys[0])
    except Exception as exc:  # noqa: BLE001
        log.debug("health cache read skipped: %s", exc)
        return None
    return json.loads(raw) if raw else None  # {"at": time.time() of the probe round, "snapshot": {...}}


def _shared_lock(client, keys: tuple[str, str], settings: Settings) -> bool:
    try:
        return bool(client.set(keys[1], "1", nx=True, px=int((settings.health_timeout_seconds + 1) * 1000)))
    except Exception:  # noqa: BLE001 - no shared lock: probe here
        return True


def _shared_write(client, keys: tuple[str, str], snapshot: dict, ttl: float) -> None:
    try:
        client.set(keys[0], json.dumps({"at": time.time(), "snapshot": snapshot}), px=int(ttl * 1000))
        client.delete(keys[1])
    except Exception as exc:  # noqa: BLE001
        log.debug("health cache write skipped: %s", exc)


def clear_cache(settings: Settings, engine: Engine) -> None:
    """Forget cached snapshots (tests, and after configuration changes)."""
    with _local_lock:
        _local.update(at=0.0, value=None, key=None)
    client = _cache_client(settings)
    if client is not None:
        with contextlib.suppress(Exception):
            client.delete(*_keys(engine, settings))


def ready(engine: Engine, timeout: float = 2.0) -> tuple[bool, str | None]:
    """Whether the database answers SELECT 1 within ``timeout``."""
    future = _submit("ready", health_probes.database, engine)
    done, _ = wait([future], timeout=timeout)
    if not done:
        return False, f"the database did not answer within {timeout:.0f} s"
    result = future.result()
    return result["status"] != health_probes.UNHEALTHY, result.get("error")
