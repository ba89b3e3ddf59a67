"""The navbar: one link per registered page (in order), and who is signed in."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from dashapp.auth.users import User
from dashapp.config import Settings
from dashapp.payloads import paths
from dashapp.web.components.alert_bell import alert_bell
from dashapp.web.components.time_control import time_control
from dashapp.web.components.view_settings import view_settings


def user_area(settings: Settings, user: User | None) -> html.Div:
    """Signed in: name, role and a sign-out button (a POST form); else a sign-in link, or
    "read-only" when no users are configured."""
    if user is not None:
        sign_out = html.Form(dbc.Button("Sign out", type="submit", size="sm", color="light", outline=True,
                                        id="sign-out-button"),
                             action=paths.href("/auth/sign-out"), method="POST", className="d-inline ms-2")
        who = f"{user.name} · {user.role}" + (" · actions paused" if user.paused else "")
        return html.Div([html.Span(who, id="signed-in-user", className="text-light small", title=user.paused or None),
                         sign_out if user.via == "session" else None], className="d-flex align-items-center")
    if not settings.auth_configured:
        return html.Div(html.Span("read-only", className="badge text-bg-secondary", id="read-only-badge",
                                  title="No users are configured: nobody can act"))
    return html.Div(dbc.NavLink("Sign in", href=paths.href("/sign-in"), id="sign-in-link",
                                className="text-light small"))


def navbar(settings: Settings, user: User | None) -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values() if page.get("in_navbar", True)
    ]
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand("Sync Monitor", href=paths.href("/")),
            dbc.NavbarToggler(id="navbar-toggler"),
            dbc.Collapse([dbc.Nav(links, navbar=True, className="me-auto"), time_control(), view_settings()],
                         id="navbar-collapse", navbar=True),
            alert_bell(settings.refresh_seconds),
            user_area(settings, user),
        ], fluid=True),
        color="dark",
        dark=True,
        expand="lg",
    )


dash.clientside_callback(
    "function (n, open) { return n ? !open : open; }",
    dash.Output("navbar-collapse", "is_open"),
    dash.Input("navbar-toggler", "n_clicks"),
    dash.State("navbar-collapse", "is_open"),
    prevent_initial_call=True,
)
