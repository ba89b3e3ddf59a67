"""The dashboard's JSON routes and the probes; ``dashapp.web.routes`` lists and registers them.

Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace.
"""

from __future__ import annotations

import logging

from flask import jsonify, request

from dashapp import runtime
from dashapp.auth import disclosure
from dashapp.errors import BadParameter
from dashapp.health import snapshot as health
from dashapp.payloads import crm_api_usage, params
from dashapp.payloads import dashboard as payloads
from dashapp.web.api.params import int_param
from queries.clock import utc_now
from queries.freshness import STATES
from queries.recent_syncs import MAX_LIMIT

log = logging.getLogger(__name__)


def stats():
    return jsonify(payloads.stats(runtime.engine(), utc_now()))


def crm_status():
    """``?state=late&q=hub&limit=200&offset=0``: a page of CRMs, problems first."""
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise BadParameter("state", f"{state[:40]!r} is not one of {', '.join(STATES)}")
    search = request.args.get("q", "")
    if len(search) > 200:
        raise BadParameter("q", "must be at most 200 characters")
    return jsonify(payloads.crm_statuses(
        runtime.engine(), utc_now(), state=state, search=search,
        limit=int_param("limit", payloads.DEFAULT_LIMIT, 1, payloads.MAX_LIMIT),
        offset=int_param("offset", 0, 0, 1_000_000), details=disclosure.may_see_details()))


def performance_charts():
    now = utc_now()
    days = int_param("days", 7, 1, 365)
    args = request.args.to_dict(flat=False)
    chosen = {name: params.values(args, name) for name in ("crm_source", "sync_type")}
    known = params.known_values(runtime.engine())
    for name, picked in chosen.items():  # a value the table does not hold is named, as on the export
        unknown = [value for value in picked if value not in known[name]]
        if unknown:
            raise BadParameter(name, f"{unknown[0][:40]!r} is not {params.VALUE_LISTS[name]} in sync_history")
    frames = payloads.shared_performance_frames(runtime.engine(), days, now, chosen["crm_source"],
                                                chosen["sync_type"])
    return jsonify(payloads.performance_charts(frames))


def errors():
    return jsonify(payloads.errors_payload(runtime.engine(), int_param("days", 7, 1, 365), utc_now()))


def api_stats():
    return jsonify(crm_api_usage.api_stats(runtime.engine(), int_param("hours", 24, 1, 24 * 90), utc_now()))


def rate_limits():
    return jsonify(crm_api_usage.rate_limit_list(runtime.engine(), int_param("hours", 24, 1, 24 * 90),
                                                      utc_now()))


def circuit_breakers():
    return jsonify(crm_api_usage.breaker_list(runtime.engine(), int_param("hours", 24, 1, 24 * 90), utc_now()))


def system_health():
    return jsonify(disclosure.shown_health(health.system_health(runtime.settings(), runtime.engine())))


def healthz():
    """The process is alive: always 200, no I/O."""
    return jsonify({"status": "ok"})


def readyz():
    """Ready to serve: 200 when the database answers, else 503 with its error."""
    ok, error = health.ready(runtime.engine())
    if not ok:
        log.warning("not ready: %s", error)
        return jsonify({"status": "not ready", "error": disclosure.shown(error or "")}), 503
    return jsonify({"status": "ready"}), 200


def recent_syncs():
    limit = int_param("limit", 20, 1, MAX_LIMIT)
    return jsonify(payloads.recent(runtime.engine(), limit, utc_now()))
