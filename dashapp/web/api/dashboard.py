"""The JSON routes. Every route here is listed in ROUTES, the app's API surface in one screen.

Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, jsonify, request

from dashapp import runtime
from dashapp.auth import disclosure
from dashapp.health import snapshot as health
from dashapp.payloads import crm_api_usage as api_usage_payloads
from dashapp.payloads import dashboard as payloads
from dashapp.payloads import history_params
from dashapp.web import http_errors
from dashapp.web.api.export import export
from dashapp.web.api.params import int_param
from queries._sql import utc_now
from queries.recent_syncs import MAX_LIMIT

log = logging.getLogger(__name__)
api = Blueprint("api", __name__, url_prefix="/api")
probes = Blueprint("probes", __name__)


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
    frames = payloads.shared_performance_frames(runtime.engine(), days, now, history_params.values(args, "crm_source"),
                                                history_params.values(args, "sync_type"))
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
    "/export/sync-history.csv": "dashapp.web.api.export.sync_history_export",
    "/api/failed-operations": "dashapp.web.api.failed.list_operations",
    "/api/failed-operations/<id>": "dashapp.web.api.failed.one_operation",
    "/api/failed-operations/<id>/retry (POST)": "dashapp.web.api.failed.retry_one",
    "/api/failed-operations/retry (POST)": "dashapp.web.api.failed.retry_bulk",
    "/api/audit": "dashapp.web.api.failed.audit_rows",
    "/auth/sign-in, /auth/sign-out (POST)": "dashapp.web.auth_routes",
    "/metrics": "dashapp.web.api.metrics.metrics",
    "/api/alerts": "dashapp.web.api.alerts.list_alerts",
    "/api/alerts/<id>/acknowledge|resolve (POST)": "dashapp.web.api.alerts.act",
    "/api/runs/<id>": "dashapp.web.api.runs.one_run",
}


def register(server: Flask) -> None:
    from dashapp.web.api import alerts as alert_api
    from dashapp.web.api import failed as failed_api
    from dashapp.web.api import metrics
    from dashapp.web.api import runs as run_api

    metrics.register(server)
    server.register_blueprint(api)
    server.register_blueprint(alert_api.routes)
    server.register_blueprint(failed_api.routes)
    server.register_blueprint(run_api.routes)
    server.register_blueprint(probes)
    server.register_blueprint(export)
    http_errors.register(server)
