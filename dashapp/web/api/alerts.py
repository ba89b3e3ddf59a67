"""The alert JSON routes.

    GET  /api/alerts?state=firing&severity=critical&rule=late&range=7d&limit=500
         (range: 24h, 7d default, 30d, 90d, all; or start/end, ISO 8601; age: deprecated name of range)
    POST /api/alerts/<id>/acknowledge
    POST /api/alerts/<id>/resolve        {"note": "fixed the token"}

Actions need an operator (as for retries: session, proxy header or HTTP Basic); 401/403 otherwise,
409 when the alert is not firing (or already acknowledged).
"""

from __future__ import annotations

from flask import abort, jsonify, request

from dashapp import runtime
from dashapp.alerts import actions as alert_actions
from dashapp.auth import disclosure
from dashapp.auth import users as auth
from dashapp.errors import BadParameter
from dashapp.payloads import alerts as alert_payloads
from dashapp.web import auth_routes
from dashapp.web.api.actions import answer, user
from dashapp.web.api.params import int_param
from queries.clock import utc_now


def list_alerts():
    f = alert_payloads.alert_filter(request.args.to_dict(flat=False), utc_now())
    return jsonify(alert_payloads.alerts_json(runtime.engine(), f, int_param("limit", 500, 1, 5000),
                                              details=disclosure.may_see_details()))


def act(alert_id: int, action: str):
    if auth_routes.cross_site():
        abort(403)
    if action not in ("acknowledge", "resolve"):
        abort(404)
    settings = runtime.settings()
    who = user()  # who is asking, before the body is read
    note = ""
    if auth.refusal(settings, who, f"{action} alerts") is None:
        body = request.get_json(silent=True) or {}
        note = body.get("note", "") if isinstance(body, dict) else ""
        if not isinstance(note, str):
            raise BadParameter("note", "must be text")
    return answer(alert_actions.act(settings, runtime.engine(), who, alert_id, action, note, "api"))
