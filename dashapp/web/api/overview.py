"""The overview's JSON routes: ``/api/stats``, ``/api/crm-status`` and ``/api/recent-syncs``.


Each takes ``at`` (ISO 8601, ``dashapp.payloads.params.at``): the answer as of that past moment,
carrying ``"at"``. Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

from flask import jsonify, request

from dashapp import runtime
from dashapp.auth import disclosure
from dashapp.errors import BadParameter
from dashapp.payloads import overview as payloads
from dashapp.payloads import params
from dashapp.web.api.params import int_param
from queries.clock import utc_now
from queries.freshness import STATES
from queries.recent_syncs import MAX_LIMIT


def viewed() -> tuple:
    """The moment asked for (``at``, else now) and whether it is a past one; a bad ``at`` is a 400."""
    at = params.at(request.args.to_dict(flat=False), utc_now())
    return (at, True) if at is not None else (utc_now(), False)


def stats():
    now, as_of = viewed()
    return jsonify(payloads.stats(runtime.engine(), now, as_of=as_of))


def crm_status():
    """``?state=late&q=hub&limit=200&offset=0``: a page of CRMs, problems first."""
    now, as_of = viewed()
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise BadParameter("state", f"{state[:40]!r} is not one of {', '.join(STATES)}")
    search = request.args.get("q", "")
    if len(search) > 200:
        raise BadParameter("q", "must be at most 200 characters")
    return jsonify(payloads.crm_statuses(
        runtime.engine(), now, state=state, search=search,
        limit=int_param("limit", payloads.DEFAULT_LIMIT, 1, payloads.MAX_LIMIT),
        offset=int_param("offset", 0, 0, 1_000_000), details=disclosure.may_see_details(), as_of=as_of))


def recent_syncs():
    now, as_of = viewed()
    limit = int_param("limit", 20, 1, MAX_LIMIT)
    return jsonify(payloads.recent(runtime.engine(), limit, now, as_of=as_of))
