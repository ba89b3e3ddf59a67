"""The CRM API usage page's JSON routes: ``/api/api-stats``, ``/api/rate-limits`` and
``/api/circuit-breakers``.


Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

from flask import jsonify

from dashapp import runtime
from dashapp.payloads import crm_api_usage
from dashapp.web.api.params import int_param
from queries.clock import utc_now


def api_stats():
    return jsonify(crm_api_usage.api_stats(runtime.engine(), int_param("hours", 24, 1, 24 * 90), utc_now()))


def rate_limits():
    return jsonify(crm_api_usage.rate_limit_list(runtime.engine(), int_param("hours", 24, 1, 24 * 90),
                                                      utc_now()))


def circuit_breakers():
    return jsonify(crm_api_usage.breaker_list(runtime.engine(), int_param("hours", 24, 1, 24 * 90), utc_now()))
