"""The errors page's JSON route: ``/api/errors``: ``range`` (default 7d) or ``start``/``end``
(``params.window``; ``days`` deprecated); ``at`` (ISO 8601): as of that moment (``payloads.errors``).

Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

from flask import jsonify, request

from dashapp import display, runtime
from dashapp.payloads import errors as payloads
from dashapp.payloads import params
from queries.clock import utc_now


def errors():
    args = request.args.to_dict(flat=False)
    at = params.at(args, utc_now())
    now = at or utc_now()
    window = params.window(args, now, "7d")
    answer = payloads.errors_payload(runtime.engine(), window, now, as_of=at is not None)
    return jsonify(answer if at is None else {**answer, "as_of": display.iso_utc(at)})
