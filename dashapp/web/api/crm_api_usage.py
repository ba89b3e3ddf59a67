"""The CRM API usage page's JSON routes: ``/api/api-stats``, ``/api/rate-limits`` and
``/api/circuit-breakers``: ``range`` (default 24h) or ``start``/``end`` (``params.window``;
``hours`` deprecated).

Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import jsonify, request

from dashapp import runtime
from dashapp.payloads import crm_api_usage, params
from queries.clock import utc_now


def _answer(payload: Callable[..., dict]):
    """``payload`` over the window the query string asks for (default the past 24 hours)."""
    now = utc_now()
    return jsonify(payload(runtime.engine(), params.window(request.args.to_dict(flat=False), now, "24h"), now))


def api_stats():
    return _answer(crm_api_usage.api_stats)


def rate_limits():
    return _answer(crm_api_usage.rate_limit_list)


def circuit_breakers():
    return _answer(crm_api_usage.breaker_list)
