"""The errors page's JSON route: ``/api/errors``.


Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

from flask import jsonify

from dashapp import runtime
from dashapp.payloads import errors as payloads
from dashapp.web.api.params import int_param
from queries.clock import utc_now


def errors():
    return jsonify(payloads.errors_payload(runtime.engine(), int_param("days", 7, 1, 365), utc_now()))
