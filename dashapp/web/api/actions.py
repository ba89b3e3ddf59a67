"""What the JSON action routes (retries, alerts) share: who is asking, and how an action's
outcome is answered."""

from __future__ import annotations

from flask import Response, abort, jsonify, request

from dashapp import runtime
from dashapp.auth import sign_in_limit
from dashapp.auth import users as auth
from dashapp.retries.action import ActionOutcome


def user() -> auth.User | None:
    """Basic credentials when the request carries them (they win over a session cookie), else
    the signed-in user of the session or the proxy header."""
    settings = runtime.settings()
    credentials = request.authorization
    if credentials is None or credentials.type != "basic" or not settings.auth_users_file:
        return auth.current_user(settings)
    name = credentials.username or ""
    # reserved (and counted as a failure) before the password is checked, as on the sign-in form
    attempt = sign_in_limit.reserve(settings, sign_in_limit.keys(request.remote_addr, name))
    if attempt.refused:
        abort(Response('{"error": "too many failed sign-ins; try again later"}', 429,
                       {"Content-Type": "application/json"}))
    user = auth.check_password(settings, name, credentials.password or "")
    if user is None:
        return None
    sign_in_limit.succeeded(settings, attempt)
    return auth.User(user.name, user.role, "basic")


def answer(outcome: ActionOutcome):
    body: dict = outcome.result.as_json() if outcome.result is not None else {}
    body.update({"error": outcome.message} if outcome.status >= 400 else {"message": outcome.message})
    headers = {"WWW-Authenticate": 'Basic realm="Sync Monitor"'} if outcome.status == 401 else {}
    return jsonify(body), outcome.status, headers
