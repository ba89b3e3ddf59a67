"""The health page's JSON route (``/api/system-health``) and the probes (``/healthz``, ``/readyz``).


Unknown query parameters are ignored; a bad value of a known one is a 400 naming it; a database
that cannot answer is a 503 with its error, never a 500 with a stack trace (``dashapp.web.http_errors``).
"""

from __future__ import annotations

import logging

from flask import jsonify

from dashapp import runtime
from dashapp.auth import disclosure
from dashapp.health import snapshot as health

log = logging.getLogger(__name__)


def system_health():
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
