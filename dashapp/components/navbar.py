"""The navbar: one link per registered page, in registration order."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc


def navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values()
    ]
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand("Sync Monitor", href="/"),
            dbc.NavbarToggler(id="navbar-toggler"),
            dbc.Collapse(dbc.Nav(links, navbar=True), id="navbar-collapse", navbar=True),
        ], fluid=True),
        color="dark",
        dark=True,
        expand="md",
    )


dash.clientside_callback(
    "function (n, open) { return n ? !open : open; }",
    dash.Output("navbar-collapse", "is_open"),
    dash.Input("navbar-toggler", "n_clicks"),
    dash.State("navbar-collapse", "is_open"),
    prevent_initial_call=True,
)
