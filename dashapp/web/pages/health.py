"""Health (``/health``): database, Redis and Celery in detail, on their own refresh interval.

Everything: ``dashapp.health.snapshot.system_health`` (probes in ``dashapp.health.probes``), the same
snapshot as /api/system-health.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html

from dashapp import display, runtime
from dashapp.auth import disclosure
from dashapp.health import snapshot as health
from dashapp.web import ids
from dashapp.web.components import health_strip
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters


def layout(**_query: str) -> html.Div:
    settings = runtime.settings()
    return html.Div([
        ignored_chips(unknown_parameters(_query, ())),
        dcc.Interval(id=ids.HEALTH_PAGE_INTERVAL, interval=settings.health_refresh_seconds * 1000),
        dbc.Row([
            dbc.Col(html.H4("System health", className="mb-0"), xs=12, sm=6),
            dbc.Col(html.Span("checking…", id=ids.HEALTH_PAGE_CHECKED, className="text-muted small"),
                    xs=12, sm=6, className="text-sm-end"),
        ], className="align-items-center mb-3 g-2"),
        dbc.Row(id=ids.HEALTH_PAGE_BODY, className="g-3"),
    ])


@callback(
    Output(ids.HEALTH_PAGE_BODY, "children"),
    Output(ids.HEALTH_PAGE_CHECKED, "children"),
    Input(ids.HEALTH_PAGE_INTERVAL, "n_intervals"),
    State(ids.VIEWER_TIMEZONE, "data"),
)
def refresh_health(_ticks, zone):
    snapshot = disclosure.shown_health(health.system_health(runtime.settings(), runtime.engine()))
    checked = display.local_clock(snapshot.get("checked_at"), zone, seconds=True)
    return health_strip.details(snapshot), f"checked {checked}, every {runtime.settings().health_refresh_seconds} s"
