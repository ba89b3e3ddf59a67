"""The errors page's JSON route: ``/api/errors``: ``range`` (default 7d) or ``start``/``end``
(``params.window``; ``days`` deprecated).

Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

from flask import jsonify, request

from dashapp import runtime
from dashapp.payloads import errors as payloads
from dashapp.payloads import params
from queries.clock import utc_now


def errors():
    now = utc_now()
    window = params.window(request.args.to_dict(flat=False), now, "7d")
    return jsonify(payloads.errors_payload(runtime.engine(), window, now))
