"""The health page's JSON route (``/api/system-health``) and the probes (``/healthz``, ``/readyz``).


Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

import logging

from flask import jsonify, request

from dashapp import runtime
from dashapp.auth import disclosure
from dashapp.health import snapshot as health
from dashapp.payloads import params
from queries.clock import utc_now

log = logging.getLogger(__name__)


def system_health():
    """The services now; as of ``at``, their statuses as recorded then (``snapshot.recorded_health``)."""
    at = params.at(request.args.to_dict(flat=False), utc_now())
    if at is not None:
        return jsonify(disclosure.shown_health(health.recorded_health(runtime.engine(), at)))
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
