"""The overview's JSON routes: ``/api/stats``, ``/api/crm-status`` and ``/api/recent-syncs``.


Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

from flask import jsonify, request

from dashapp import runtime
from dashapp.auth import disclosure
from dashapp.errors import BadParameter
from dashapp.payloads import overview as payloads
from dashapp.web.api.params import int_param
from queries.clock import utc_now
from queries.freshness import STATES
from queries.recent_syncs import MAX_LIMIT


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


def recent_syncs():
    limit = int_param("limit", 20, 1, MAX_LIMIT)
    return jsonify(payloads.recent(runtime.engine(), limit, utc_now()))
