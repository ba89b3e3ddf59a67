"""The navbar's view settings, remembered in the browser (localStorage): the theme (System, Light or
Dark: "Theme: System" follows the system's setting), and times in the viewer's local zone or in UTC.

The theme sets Bootstrap's ``data-bs-theme`` and AG Grid's ``data-ag-theme-mode`` on <html>
(assets/sync-monitor.js, also before the first paint) and is the ``THEME_MODE`` store that figure
callbacks read for the dark Plotly template. The clock is the ``VIEWER_TIMEZONE`` store (an IANA
name) that every grid renderer, drawer, chart axis and hover reads, and a cookie (``sm-zone``) so
that a page's first render on the server knows it too (``dashapp.viewer``).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc, html

from dashapp.web import ids


def view_settings() -> html.Div:
    return html.Div([
        dcc.Store(id=ids.THEME_CHOICE),
        dcc.Store(id=ids.THEME_MODE),
        dcc.Store(id=ids.CLOCK_CHOICE),
        dbc.Button("Local time", id=ids.CLOCK_TOGGLE, size="sm", color="light", outline=True,
                   className="me-2 text-nowrap", title="Times are shown in your local zone: click for UTC"),
        dbc.DropdownMenu([
            dbc.DropdownMenuItem("System", id=ids.THEME_SYSTEM),  # the system's light or dark setting
            dbc.DropdownMenuItem("Light", id=ids.THEME_LIGHT),
            dbc.DropdownMenuItem("Dark", id=ids.THEME_DARK),
        ], id=ids.THEME_MENU, label="Theme", size="sm", color="secondary", align_end=True,
            toggleClassName="text-nowrap"),
    ], className="d-flex align-items-center my-2 my-lg-0 me-lg-3 view-settings")


clientside_callback(
    ClientsideFunction("syncMonitor", "chooseTheme"),
    Output(ids.THEME_CHOICE, "data"),
    Input(ids.APP_CONFIG, "data"), Input(ids.THEME_SYSTEM, "n_clicks"), Input(ids.THEME_LIGHT, "n_clicks"),
    Input(ids.THEME_DARK, "n_clicks"),
)

clientside_callback(
    ClientsideFunction("syncMonitor", "themeMode"),
    Output(ids.THEME_MODE, "data"),
    Output(ids.THEME_MENU, "label"),
    Input(ids.THEME_CHOICE, "data"), Input(ids.CLOCK_TICK, "n_intervals"),
    State(ids.THEME_MODE, "data"),
)

clientside_callback(
    ClientsideFunction("syncMonitor", "chooseClock"),
    Output(ids.CLOCK_CHOICE, "data"),
    Input(ids.APP_CONFIG, "data"), Input(ids.CLOCK_TOGGLE, "n_clicks"),
)

clientside_callback(
    ClientsideFunction("syncMonitor", "viewerTimezone"),
    Output(ids.VIEWER_TIMEZONE, "data"),
    Output(ids.CLOCK_TOGGLE, "children"),
    Output(ids.CLOCK_TOGGLE, "title"),
    Input(ids.APP_CONFIG, "data"), Input(ids.CLOCK_CHOICE, "data"),
)
