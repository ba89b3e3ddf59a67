"""What a failure tells whom. A database or service error names hosts, ports and roles
(``role "x" is not permitted to log in``): signed-in operators see it, on pages, in the JSON and on
/health; anonymous users and viewers get a short line ("database unavailable"); the detail always
goes to the log, where the caller writes it. A database error says its cause in its own words
(``dashapp.errors.database_problem``): everyone reads "permission denied", "table x does not
exist", "column x does not exist" or "statement timeout" with what to do; only an operator reads
the schema, the role and the GRANT to run.

The same for the app's own infrastructure elsewhere: a notification's send error and a retry the
broker did not take are an operator's; anyone else reads their class
(``dashapp.auth.failure_classes``: "the webhook answered 500", "not queued: the broker could not be
reached"), and /api/system-health and /health give anyone status, latency and figures, never
versions or names (``shown_health``)."""

from __future__ import annotations

from dashapp import runtime
from dashapp.auth import users as auth
from dashapp.errors import DATABASE_UNAVAILABLE, database_problem

__all__ = ["DATABASE_UNAVAILABLE", "PUBLIC_FIGURES", "may_see_details", "shown", "shown_error", "shown_health"]
_SHORT_STATUS = {"unhealthy": "unavailable", "degraded": "degraded", "not_configured": "not configured"}


def may_see_details() -> bool:
    """True when this request comes from a signed-in operator (session cookie or proxy header)."""
    user = auth.current_user(runtime.settings())
    return user is not None and user.can_act


def shown(detail: str, short: str = DATABASE_UNAVAILABLE) -> str:
    return detail if may_see_details() else short


def shown_error(exc: BaseException) -> str:
    """A database error as this request may see it: its cause and what to do, for an operator
    with the object, role and GRANT (``database_problem``'s ``detail``), for anyone else in words
    that name nothing of the server (its ``public``)."""
    problem = database_problem(exc)
    return shown(problem.detail, problem.public)


# What anyone may read of each service on /api/system-health and /health: its status, latency and
# figures that are counts, sizes and percentages (numbers only). Never a version, a worker's name
# (``celery@host``), a queue's name, the SQLite file's journal mode, or any field added later
# until it is listed here.
PUBLIC_FIGURES = {
    "database": ("response_time_ms", "connection_count", "connections_used", "max_connections", "database_size_mb",
                 "sync_history_size_mb", "cache_hit_ratio", "cache_block_reads", "longest_query_seconds",
                 "lock_waits", "file_size_mb"),
    "redis": ("response_time_ms", "memory_used_mb", "maxmemory_mb", "memory_percent", "connected_clients"),
    "celery": ("active_workers", "pending_tasks", "active_tasks"),
    "app": ("uptime_seconds", "process_cpu_percent", "process_memory_mb", "host_memory_percent",
            "host_memory_total_mb", "disk_percent", "disk_free_gb", "requests_per_minute"),
    "impossible_times": ("count", "count_exact"),
}
_PUBLIC_TEXT = {"impossible_times": ("earliest", "latest")}  # times the app computes, not the server's
_LEVELS = ("ok", "amber", "red", "unknown")


def _number(value: object) -> bool:
    return value is None or isinstance(value, int | float)  # a version is text, never shown


def _public_probe(name: str, probe: dict) -> dict:
    """One service as anyone may read it (``PUBLIC_FIGURES``); its error cut to its status."""
    public: dict = {"status": probe.get("status")}
    public.update({k: probe[k] for k in PUBLIC_FIGURES.get(name, ()) if k in probe and _number(probe[k])})
    public.update({k: probe[k] for k in _PUBLIC_TEXT.get(name, ()) if k in probe})
    if isinstance(probe.get("levels"), dict):
        public["levels"] = {str(k): v for k, v in probe["levels"].items() if v in _LEVELS}
    if name == "app" and isinstance(probe.get("slowest_requests"), list):  # this app's own paths and times
        public["slowest_requests"] = [{k: r.get(k) for k in ("path", "method", "seconds", "level")}
                                      for r in probe["slowest_requests"] if isinstance(r, dict)]
    if probe.get("error"):
        public["error"] = f"{name} {_SHORT_STATUS.get(probe.get('status'), 'unavailable')}"
    return public


def shown_health(snapshot: dict) -> dict:
    """A health snapshot as this request may see it: everything for an operator; for anyone else
    each service's status, latency and figures (``PUBLIC_FIGURES``: no versions, host or worker
    names, addresses or OS build) and its ``error`` cut to its status ("redis unavailable"); of
    the impossible times the count only (no runs, CRMs or links)."""
    if may_see_details():
        return snapshot
    return {name: _public_probe(name, probe) if isinstance(probe, dict) else probe
            for name, probe in snapshot.items()}
