"""One probe per service. Each returns a dict with ``status`` (healthy, degraded, unhealthy,
not_configured), its figures, and ``error`` when not healthy. A probe never raises; its own
timeouts bound it, and ``dashapp.health.snapshot`` bounds all of them together.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import redis
from celery import Celery
from sqlalchemy import Engine

from dashapp import display, runtime
from dashapp.errors import error_line
from queries import health as health_sql
from queries import impossible_times as impossible
from queries.clock import utc_now

HEALTHY, DEGRADED, UNHEALTHY, NOT_CONFIGURED = "healthy", "degraded", "unhealthy", "not_configured"
SLOW_DATABASE_MS = 200.0
REDIS_MEMORY_WARN = 0.8
RUNS: Counter[str] = Counter()  # how often each probe really ran (the cache's tests read it)


def _failed(exc: BaseException) -> str:
    return error_line(exc) if exc.__class__.__module__.startswith("sqlalchemy") else \
        (f"{type(exc).__name__}: {exc}".strip() or type(exc).__name__)


def database(engine: Engine) -> dict:
    RUNS["database"] += 1
    try:
        with engine.connect() as conn:
            latency = health_sql.ping_ms(conn)
            facts = health_sql.details(conn)
    except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
        return {"status": UNHEALTHY, "error": _failed(exc), "connection_count": None, "response_time_ms": None}
    levels = database_levels(facts)
    result = {"status": HEALTHY, "response_time_ms": latency, **facts, **({"levels": levels} if levels else {})}
    problems = [DATABASE_PROBLEMS[name].format(**facts) for name, found in levels.items() if found != "ok"]
    if latency > SLOW_DATABASE_MS:
        problems.insert(0, f"SELECT 1 took {latency:.0f} ms (over {SLOW_DATABASE_MS:.0f} ms)")
    if problems:
        result.update(status=DEGRADED, error="; ".join(problems))
    return result


def impossible_times(engine: Engine) -> dict:
    """Runs at impossible times (``queries.impossible_times``): their count (each side bounded),
    up to 10 of each side with a link to each run, and a link to all of them in the history.
    Degraded while there are any: their data is wrong, and no rollup counts them."""
    now = utc_now()
    earliest, latest = impossible.bounds(now)
    try:
        count, exact = impossible.impossible_count(engine, now)
        runs = impossible.impossible_runs(engine, now) if count else None
    except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
        return {"status": UNHEALTHY, "error": _failed(exc), "count": None, "runs": []}
    listed = [] if runs is None else [
        {"id": int(r["id"]), "crm_source": r["crm_source"], "sync_type": r["sync_type"],
         "start_time": display.iso_utc(r["start_time"]), "link": runtime.href(f"/runs/{int(r['id'])}")}
        for r in runs.to_dict("records")]
    result = {"status": DEGRADED if count else HEALTHY, "count": count, "count_exact": exact,
              "earliest": display.iso_utc(earliest), "latest": display.iso_utc(latest), "runs": listed,
              "history_link": runtime.href("/history?times=impossible")}
    if count:
        about = "" if exact else "at least "
        result["error"] = f"{about}{count:,} runs start before {result['earliest']} or after {result['latest']}"
    return result


# amber from, red from; the cache hit ratio is bad when low, so its limits count down
DATABASE_LIMITS = {"connections_percent": (80.0, 95.0), "cache_hit_ratio": (0.95, 0.90),
                   "longest_query_seconds": (60.0, 300.0), "lock_waits": (1, 5)}
MIN_BLOCK_READS = 1_000_000
DATABASE_PROBLEMS = {
    "connections_percent": "{connections_used} of {max_connections} connections in use",
    "cache_hit_ratio": "cache hit ratio {cache_hit_ratio:.2%}",
    "longest_query_seconds": "a query has run for {longest_query_seconds:.0f} s",
    "lock_waits": "{lock_waits} sessions waiting on a lock",
}


def database_levels(facts: dict) -> dict[str, str]:
    """ok, amber or red per PostgreSQL figure (none on SQLite)."""
    if facts.get("max_connections") is None:
        return {}
    values = {"connections_percent": 100.0 * facts["connections_used"] / max(facts["max_connections"], 1),
              # judged once the database has read enough blocks to mean something (not a new one)
              "cache_hit_ratio": facts.get("cache_hit_ratio") if facts.get("cache_block_reads", 0) >= MIN_BLOCK_READS
              else None,
              "longest_query_seconds": facts.get("longest_query_seconds"), "lock_waits": facts.get("lock_waits")}
    levels = {}
    for name, value in values.items():
        amber, red = DATABASE_LIMITS[name]
        if value is None:
            levels[name] = "ok"
        elif amber > red:  # lower is worse
            levels[name] = "red" if value < red else "amber" if value < amber else "ok"
        else:
            levels[name] = "red" if value >= red else "amber" if value >= amber else "ok"
    return levels


def app_probe(data_path) -> dict:
    """This process and its host (``dashapp.host_stats``): degraded when a figure is amber or red."""
    from dashapp.health import host_stats

    figures = host_stats.snapshot(data_path)
    bad = [name.replace("_", " ") for name, found in figures["levels"].items() if found in ("amber", "red")]
    status = DEGRADED if bad else HEALTHY
    return {"status": status, **figures, **({"error": "high: " + ", ".join(bad)} if bad else {})}


def redis_client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                retry_on_timeout=False, health_check_interval=0)


def redis_probe(url: str | None, timeout: float) -> dict:
    empty = {"memory_used_mb": None, "connected_clients": None}
    if not url:
        return {"status": NOT_CONFIGURED, **empty, "error": "REDIS_URL is not set"}
    RUNS["redis"] += 1
    client = redis_client(url, timeout)
    try:
        started = time.perf_counter()
        client.ping()
        latency = round((time.perf_counter() - started) * 1000, 2)
        info = client.info()
    except Exception as exc:  # noqa: BLE001
        return {"status": UNHEALTHY, **empty, "error": _failed(exc)}
    finally:
        client.close()
    used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0) or 0)
    result = {
        "status": HEALTHY, "response_time_ms": latency,
        "memory_used_mb": round(used / 1e6, 2), "maxmemory_mb": round(limit / 1e6, 2) if limit else None,
        "memory_percent": round(used * 100 / limit, 1) if limit else None,
        "connected_clients": int(info.get("connected_clients", 0)),
        "version": info.get("redis_version"), "uptime_seconds": int(info.get("uptime_in_seconds", 0)),
    }
    if limit and used > REDIS_MEMORY_WARN * limit:
        result.update(status=DEGRADED, error=f"memory at {result['memory_percent']}% of maxmemory")
    return result


_depths: dict[str, deque] = {}
_lock = threading.Lock()


def _celery_app(broker: str, timeout: float) -> Celery:
    """A Celery app for one probe, closed after it. A shared one would share its producer pool
    between probes, and one probe abandoned past its deadline could leave the next one waiting
    for a pooled connection forever."""
    app = Celery("sync_monitor_probe", broker=broker, set_as_current=False)
    app.conf.update(broker_connection_timeout=timeout, broker_connection_retry=False,
                    broker_connection_max_retries=0, broker_pool_limit=None,
                    broker_transport_options={"socket_timeout": timeout, "socket_connect_timeout": timeout,
                                              "max_retries": 0})
    return app


def queue_depths(broker: str, queues: tuple[str, ...], timeout: float) -> dict[str, int]:
    """Messages waiting in each queue: Redis list lengths (kombu's priority lists included), or a
    passive queue declare on AMQP."""
    scheme = urlparse(broker).scheme
    if scheme in ("redis", "rediss"):
        client = redis_client(broker, timeout)
        try:
            pipe = client.pipeline()
            names = [(q, f"{q}\x06\x16{p}" if p else q) for q in queues for p in (0, 3, 6, 9)]
            for _, key in names:
                pipe.llen(key)
            depths: dict[str, int] = dict.fromkeys(queues, 0)
            for (queue, _), length in zip(names, pipe.execute(), strict=True):
                depths[queue] += int(length)
            return depths
        finally:
            client.close()
    from kombu import Connection

    with Connection(broker, connect_timeout=timeout) as conn:
        channel = conn.channel()
        depths = {}
        for queue in queues:
            try:
                depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
            except Exception:  # noqa: BLE001 - a queue nobody declared yet holds nothing
                channel = conn.channel()
                depths[queue] = 0
        return depths


def _growing(broker: str, total: int) -> list[int] | None:
    """The last depths when the queue grew at each of the last three probes, else None."""
    with _lock:
        history = _depths.setdefault(broker, deque(maxlen=4))
        history.append(total)
        values = list(history)
    if len(values) >= 4 and all(b > a for a, b in zip(values, values[1:], strict=False)):
        return values
    return None


QUEUE_WARN, QUEUE_CRITICAL = 10, 50  # CELERY_QUEUE_WARN, CELERY_QUEUE_CRITICAL's defaults


def backlog(depths: dict[str, int], warn: int, critical: int) -> tuple[str, str] | None:
    """(status, why) when more tasks wait than ``warn`` (degraded: amber) or ``critical``
    (unhealthy: red), naming the count and the queues that hold them; None when few wait."""
    pending = sum(depths.values())
    if pending <= warn:
        return None
    level, limit, name = (UNHEALTHY, critical, "CELERY_QUEUE_CRITICAL") if pending > critical else \
        (DEGRADED, warn, "CELERY_QUEUE_WARN")
    where = ", ".join(f"{count} in {queue}" for queue, count in depths.items() if count)
    return level, f"{pending} tasks waiting for a worker, over {limit} ({name}): {where}"


def celery_probe(broker: str | None, queues: tuple[str, ...], timeout: float, warn: int = QUEUE_WARN,
                 critical: int = QUEUE_CRITICAL) -> dict:
    empty = {"active_workers": 0, "pending_tasks": None, "workers": []}
    if not broker:
        return {"status": NOT_CONFIGURED, **empty, "error": "CELERY_BROKER_URL (or REDIS_URL) is not set"}
    RUNS["celery"] += 1
    step = timeout / 2  # ping, then the rest in parallel: two round trips in all
    try:
        depths = queue_depths(broker, queues, step)
    except Exception as exc:  # noqa: BLE001
        return {"status": UNHEALTHY, **empty, "error": f"broker unreachable: {_failed(exc)}"}
    pending = sum(depths.values())
    app = _celery_app(broker, step)
    try:
        names = sorted(_inspect(app, "ping", step) or {})
        workers = _worker_details(app, names, step) if names else []
    except Exception as exc:  # noqa: BLE001
        return {"status": UNHEALTHY, **empty, "pending_tasks": pending, "queues": depths,
                "error": f"inspect failed: {_failed(exc)}"}
    finally:
        app.close()
    result = {"status": HEALTHY, "active_workers": len(names), "pending_tasks": pending, "queues": depths,
              "workers": workers, "active_tasks": sum(w["active"] or 0 for w in workers)}
    growth = _growing(broker, pending)
    problems: list[str] = []
    if not names and pending:
        problems.append(f"no worker replied within {step:.1f} s while {pending} tasks wait")
    elif not names:
        problems.append(f"no worker replied within {step:.1f} s")
    elif growth:
        problems.append("queue keeps growing: " + " → ".join(map(str, growth)))
    waiting = backlog(depths, warn, critical)
    if waiting:
        problems.insert(0, waiting[1])
    if problems:
        result.update(status=waiting[0] if waiting else DEGRADED, error="; ".join(problems))
    return result


def _inspect(app: Celery, method: str, timeout: float, names: list[str] | None = None) -> dict | None:
    """One remote-control call on a connection of its own (calls run in parallel threads, and a
    connection must not be shared between them)."""
    with app.connection_for_write() as connection:
        inspector = app.control.inspect(timeout=timeout, connection=connection, destination=names,
                                        limit=len(names) if names else None)
        return getattr(inspector, method)()


def _worker_details(app: Celery, names: list[str], timeout: float) -> list[dict]:
    methods = ("active", "reserved", "scheduled", "stats")
    with ThreadPoolExecutor(max_workers=len(methods)) as pool:
        futures = {m: pool.submit(_inspect, app, m, timeout, names) for m in methods}
        replies = {m: (future.result() or {}) for m, future in futures.items()}
    workers = []
    for name in names:
        stats = replies["stats"].get(name) or {}
        pool_info = stats.get("pool") or {}
        workers.append({
            "name": name,
            "active": _count(replies["active"].get(name)),
            "reserved": _count(replies["reserved"].get(name)),
            "scheduled": _count(replies["scheduled"].get(name)),
            "concurrency": pool_info.get("max-concurrency"),
            "uptime_seconds": stats.get("uptime"),
        })
    return workers


def _count(tasks: list | None) -> int | None:
    return None if tasks is None else len(tasks)
