"""Sign in (``/sign-in``): a plain form posted to ``/auth/sign-in`` (``dashapp.web.auth_routes``),
which sets the session cookie and comes back to ``next``. Not in the navbar's page links."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp import runtime
from dashapp.auth import users as auth
from dashapp.web import ids
from dashapp.web.auth_routes import local_path

MESSAGES = {
    "invalid": "That name and password do not match a user.",
    "locked": "Too many failed sign-ins from here or for this name; wait a few minutes and try again.",
    "no-users": "No users are configured (AUTH_USERS_FILE), so nobody can sign in here.",
}


def layout(error: str | None = None, username: str = "", next: str = "/failed", **_query: str) -> html.Div:  # noqa: A002
    settings = runtime.settings()
    user = auth.current_user(settings)
    message = MESSAGES.get(error or "")
    if user is not None:
        message = message or f"You are signed in as {user.name} ({user.role})."
    if not settings.auth_users_file:
        message = message or MESSAGES["no-users"] + (
            " Your reverse proxy signs you in." if settings.auth_proxy_header else "")
    return dbc.Row(dbc.Col(dbc.Card(dbc.CardBody([
        html.H4("Sign in", className="mb-3"),
        dbc.Alert(message, color="danger" if error else "secondary", className="py-2 small",
                  id=ids.SIGN_IN_MESSAGE) if message else html.Div(id=ids.SIGN_IN_MESSAGE),
        html.Form([
            dbc.Label("Name", html_for="sign-in-username"),
            dbc.Input(id="sign-in-username", name="username", value=username[:100], autoComplete="username",
                      required=True, className="mb-2"),
            dbc.Label("Password", html_for="sign-in-password"),
            dbc.Input(id="sign-in-password", name="password", type="password", autoComplete="current-password",
                      required=True, className="mb-3"),
            dcc.Input(type="hidden", name="next", value=local_path(next), id="sign-in-next"),
            dbc.Button("Sign in", id="sign-in-submit", type="submit", color="primary"),
        ], id=ids.SIGN_IN_FORM, action="/auth/sign-in", method="POST"),
    ]), className="shadow-sm"), xs=12, sm=8, md=6, lg=4), justify="center", className="mt-4")
