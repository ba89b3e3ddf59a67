"""The JSON routes. Every route here is listed in ROUTES, the app's API surface in one screen.

Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, jsonify, request

from dashapp import api_usage_payloads, disclosure, health, history_params, http_errors, payloads, runtime
from dashapp.export import export
from dashapp.http_errors import BadParameter
from queries._sql import utc_now
from queries.recent_syncs import MAX_LIMIT

log = logging.getLogger(__name__)
api = Blueprint("api", __name__, url_prefix="/api")
probes = Blueprint("probes", __name__)


def int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, f"{raw[:40]!r} is not a whole number") from None
    if not low <= value <= high:
        raise BadParameter(name, f"must be between {low} and {high}, got {value}")
    return value


@api.get("/stats")
def stats():
    return jsonify(payloads.stats(runtime.engine(), utc_now()))


@api.get("/crm-status")
def crm_status():
    return jsonify(payloads.crm_statuses(runtime.engine(), utc_now()))


@api.get("/performance-charts")
def performance_charts():
    now = utc_now()
    days = int_param("days", 7, 1, 365)
    args = request.args.to_dict(flat=False)
    chosen = {name: history_params.values(args, name) for name in ("crm_source", "sync_type")}
    known = history_params.known_values(runtime.engine())
    for name, picked in chosen.items():  # a value the table does not hold is named, as on the export
        unknown = [value for value in picked if value not in known[name]]
        if unknown:
            raise BadParameter(name, f"{unknown[0][:40]!r} is not {history_params.VALUE_LISTS[name]} in sync_history")
    frames = payloads.shared_performance_frames(runtime.engine(), days, now, chosen["crm_source"],
                                                chosen["sync_type"])
    return jsonify(payloads.performance_charts(frames))


@api.get("/errors")
def errors():
    return jsonify(payloads.errors_payload(runtime.engine(), int_param("days", 7, 1, 365), utc_now()))


@api.get("/api-stats")
def api_stats():
    return jsonify(api_usage_payloads.api_stats(runtime.engine(), int_param("hours", 24, 1, 24 * 90), utc_now()))


@api.get("/rate-limits")
def rate_limits():
    return jsonify(api_usage_payloads.rate_limit_list(runtime.engine(), int_param("hours", 24, 1, 24 * 90),
                                                      utc_now()))


@api.get("/circuit-breakers")
def circuit_breakers():
    return jsonify(api_usage_payloads.breaker_list(runtime.engine(), int_param("hours", 24, 1, 24 * 90), utc_now()))


@api.get("/system-health")
def system_health():
    return jsonify(disclosure.shown_health(health.system_health(runtime.settings(), runtime.engine())))


@probes.get("/healthz")
def healthz():
    """The process is alive: always 200, no I/O."""
    return jsonify({"status": "ok"})


@probes.get("/readyz")
def readyz():
    """Ready to serve: 200 when the database answers, else 503 with its error."""
    ok, error = health.ready(runtime.engine())
    if not ok:
        log.warning("not ready: %s", error)
        return jsonify({"status": "not ready", "error": disclosure.shown(error or "")}), 503
    return jsonify({"status": "ready"}), 200


@api.get("/recent-syncs")
def recent_syncs():
    limit = int_param("limit", 20, 1, MAX_LIMIT)
    return jsonify(payloads.recent(runtime.engine(), limit, utc_now()))


ROUTES = {
    "/api/stats": stats,
    "/api/crm-status": crm_status,
    "/api/recent-syncs": recent_syncs,
    "/api/performance-charts": performance_charts,
    "/api/errors": errors,
    "/api/api-stats": api_stats,
    "/api/rate-limits": rate_limits,
    "/api/circuit-breakers": circuit_breakers,
    "/api/system-health": system_health,
    "/healthz": healthz,
    "/readyz": readyz,
    "/export/sync-history.csv": "dashapp.export.sync_history_export",
    "/api/failed-operations": "dashapp.failed_api.list_operations",
    "/api/failed-operations/<id>": "dashapp.failed_api.one_operation",
    "/api/failed-operations/<id>/retry (POST)": "dashapp.failed_api.retry_one",
    "/api/failed-operations/retry (POST)": "dashapp.failed_api.retry_bulk",
    "/api/audit": "dashapp.failed_api.audit_rows",
    "/auth/sign-in, /auth/sign-out (POST)": "dashapp.auth_routes",
    "/metrics": "dashapp.metrics.metrics",
    "/api/alerts": "dashapp.alert_api.list_alerts",
    "/api/alerts/<id>/acknowledge|resolve (POST)": "dashapp.alert_api.act",
    "/api/runs/<id>": "dashapp.run_api.one_run",
}


def register(server: Flask) -> None:
    from dashapp import alert_api, failed_api, metrics, run_api

    metrics.register(server)
    server.register_blueprint(api)
    server.register_blueprint(alert_api.routes)
    server.register_blueprint(failed_api.routes)
    server.register_blueprint(run_api.routes)
    server.register_blueprint(probes)
    server.register_blueprint(export)
    http_errors.register(server)
