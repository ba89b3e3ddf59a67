"""Sign in (``/sign-in``): a plain form posted to ``/auth/sign-in`` (``dashapp.web.auth_routes``),
which sets the session cookie and comes back to ``next``. Not in the navbar's page links."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp import runtime
from dashapp.auth import users as auth
from dashapp.payloads import paths
from dashapp.web import ids
from dashapp.web.auth_routes import local_path

MESSAGES = {
    "invalid": "That name and password do not match a user.",
    "locked": "Too many failed sign-ins from here or for this name; wait a few minutes and try again.",
    "no-users": "No users are configured (AUTH_USERS_FILE), so nobody can sign in here.",
}


def layout(error: str | None = None, username: str = "", next: str | None = None, **_query: str) -> html.Div:  # noqa: A002
    settings = runtime.settings()
    user = auth.current_user(settings)
    message = MESSAGES.get(error or "")
    if user is not None:
        message = message or f"You are signed in as {user.name} ({user.role})." + (
            f" Read-only: {user.paused}." if user.paused else "")
    if not settings.auth_users_file:  # no form that could only fail: say how to add a user instead
        proxy = " Your reverse proxy signs you in." if settings.auth_proxy_header else ""
        return _centred([
            html.H4("Sign in", className="mb-3"),
            dbc.Alert([MESSAGES["no-users"] + proxy, " Add a user and point the app at the file, then restart:",
                       html.Pre(ADD_USER, className="mb-0 mt-2 small")],
                      color="secondary", className="py-2 small", id=ids.SIGN_IN_MESSAGE),
        ])
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
            dcc.Input(type="hidden", name="next", value=local_path(next or paths.href("/failed")),
                      id="sign-in-next"),
            dbc.Button("Sign in", id="sign-in-submit", type="submit", color="primary"),
        ], id=ids.SIGN_IN_FORM, action=paths.href("/auth/sign-in"), method="POST"),
    ]), className="shadow-sm"), xs=12, sm=8, md=6, lg=4), justify="center", className="mt-4")


ADD_USER = ("export AUTH_USERS_FILE=data/users.json\n"
            "python app.py users add alice --role operator   # asks for her password\n"
            "export SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex())')\n"
            "python app.py")


def _centred(children: list) -> dbc.Row:
    return dbc.Row(dbc.Col(dbc.Card(dbc.CardBody(children), className="shadow-sm"), xs=12, sm=10, md=8, lg=6),
                   justify="center", className="mt-4")
