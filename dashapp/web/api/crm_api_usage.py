"""The CRM API usage page's JSON routes: ``/api/api-stats``, ``/api/rate-limits`` and
``/api/circuit-breakers``: ``range`` (default 24h) or ``start``/``end`` (``params.window``;
``hours`` deprecated). ``at`` (ISO 8601): as of that moment: the window ends there (a later
custom end is cut to it), rate limits are the last readings before it with ``in_window`` counted
from it, breakers are in the state their last transition before it left them.

Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import jsonify, request

from dashapp import display, runtime
from dashapp.payloads import crm_api_usage, params
from queries.clock import utc_now


def _answer(payload: Callable[..., dict]):
    """``payload`` over the window the query string asks for (default the past 24 hours), ending
    at ``at`` when it is given (the view as of that moment)."""
    args = request.args.to_dict(flat=False)
    now = utc_now()
    at = params.at(args, now)
    shown = at or now
    answer = payload(runtime.engine(), params.window(args, shown, "24h"), shown)
    return jsonify(answer if at is None else {**answer, "as_of": display.iso_utc(at)})


def api_stats():
    return _answer(crm_api_usage.api_stats)


def rate_limits():
    return _answer(crm_api_usage.rate_limit_list)


def circuit_breakers():
    return _answer(crm_api_usage.breaker_list)
