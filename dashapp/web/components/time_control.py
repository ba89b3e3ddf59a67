"""The navbar's time control: a moment (a datetime-local input read in the viewer's zone), "Go"
and "Live". Go puts ``at=<UTC ISO Z>`` in the address, keeping the path and the other parameters;
Live takes it out (assets/as-of.js, ``syncMonitorAsOf``). A moment that cannot be shown (not a
time, in the future, before 2000) is said under the input, and the address is left alone."""

from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html, no_update

from dashapp import display
from dashapp.payloads import params
from dashapp.web import ids, viewer
from queries.clock import utc_now


def time_control() -> html.Div:
    """One small navbar button ("Live", or "As of 03:12" while the app shows the past) that opens
    the control: the moment, Go and Live."""
    return html.Div([
        dcc.Store(id=ids.AS_OF_TARGET),
        dbc.Button("Live", id=ids.AS_OF_TOGGLE, size="sm", color="success", className="text-nowrap",
                   title="Show the app as of another moment"),
        dbc.Popover(dbc.PopoverBody([
            html.Label(["Show the app as of (", html.Span("UTC", id=ids.AS_OF_ZONE), ")"], htmlFor=ids.AS_OF_INPUT,
                       className="form-label small mb-1"),
            dbc.Input(id=ids.AS_OF_INPUT, type="datetime-local", size="sm", step=60, className="as-of-input mb-2"),
            html.Div([
                dbc.Button("Go", id=ids.AS_OF_GO, size="sm", color="primary", className="me-2"),
                dbc.Button("Live", id=ids.AS_OF_LIVE, size="sm", color="success", outline=True,
                           title="Back to now"),
            ], className="d-flex"),
            html.Div(id=ids.AS_OF_MESSAGE, className="small text-danger mt-1", role="status"),
        ]), target=ids.AS_OF_TOGGLE, trigger="legacy", placement="bottom", className="as-of-popover"),
    ], className="d-flex align-items-center my-2 my-lg-0 me-lg-2 time-control")


def chosen_moment(value: object, zone: object, now: datetime) -> datetime:
    """The UTC moment a datetime-local value (``2026-12-04T03:12``) names in ``zone``; a value
    that is not one, or one ``params.at`` refuses (future, before 2000), is a ValueError saying why."""
    moment = viewer.from_local_input(value, zone)
    checked = params.at({params.AT: [display.iso_utc(moment) or ""]}, now)  # BadParameter is a ValueError
    return checked or moment


local_value = viewer.local_input  # the input's value for a moment


@callback(
    Output(ids.AS_OF_TARGET, "data"), Output(ids.AS_OF_MESSAGE, "children"),
    Input(ids.AS_OF_GO, "n_clicks"), State(ids.AS_OF_INPUT, "value"), State(ids.VIEWER_TIMEZONE, "data"),
    prevent_initial_call=True,
)
def go(_clicks, value, zone):
    """Go: the moment chosen, as UTC ISO (the browser then goes there), or why it cannot be."""
    try:
        moment = chosen_moment(value, zone, utc_now())
    except ValueError as exc:
        return no_update, str(exc).removeprefix("at: ")
    return display.iso_utc(moment), ""


clientside_callback(  # the address with the chosen at (or without any): a new page load
    ClientsideFunction("syncMonitorAsOf", "go"),
    Output(ids.AS_OF_GO, "name"),  # nothing changes: the browser leaves the page
    Input(ids.AS_OF_TARGET, "data"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("syncMonitorAsOf", "live"),
    Output(ids.AS_OF_LIVE, "name"),
    Input(ids.AS_OF_LIVE, "n_clicks"),
    prevent_initial_call=True,
)
