"""The performance page's JSON route: ``/api/performance-charts``: ``range`` (default 7d) or
``start``/``end`` (``params.window``; ``days`` deprecated), ``crm_source``, ``sync_type``; ``at``
(ISO 8601): as of that moment (the window ends there, runs as they stood then: ``payloads.performance``).

Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

from flask import jsonify, request

from dashapp import display, runtime
from dashapp.errors import BadParameter
from dashapp.payloads import params
from dashapp.payloads import performance as payloads
from queries.clock import utc_now


def performance_charts():
    args = request.args.to_dict(flat=False)
    at = params.at(args, utc_now())
    now = at or utc_now()
    window = params.window(args, now, "7d")
    chosen = {name: params.values(args, name) for name in ("crm_source", "sync_type")}
    known = params.known_values(runtime.engine())
    for name, picked in chosen.items():  # a value the table does not hold is named, as on the export
        unknown = [value for value in picked if value not in known[name]]
        if unknown:
            raise BadParameter(name, f"{unknown[0][:40]!r} is not {params.VALUE_LISTS[name]} in sync_history")
    frames, covered = payloads.shared_performance_frames(runtime.engine(), window, now, chosen["crm_source"],
                                                         chosen["sync_type"], as_of=at is not None)
    as_of = {} if at is None else {"as_of": display.iso_utc(at)}
    return jsonify({**payloads.performance_charts(frames), **covered, **as_of})
