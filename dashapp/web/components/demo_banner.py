"""The page banner while the embedded demo fills in the background ("Filling the demo: 12 of 30
days"), gone once it is full; from ``dashapp.runtime.demo_progress``, this process's own backfill."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html, no_update

from dashapp import runtime
from dashapp.web import ids


def _text() -> str:
    done, days = runtime.demo_progress.days_done, runtime.demo_progress.days
    so_far = f"{done} of {days} days" if days else "starting"
    return (f"Filling the demo: {so_far}. The pages show what is written so far and fill in as it goes; "
            "live runs start when it is done.")


def demo_banner() -> html.Div:
    filling = runtime.demo_progress.filling
    return html.Div([
        dbc.Alert(_text() if filling else "", id=ids.DEMO_BANNER, color="info", is_open=filling,
                  className="small py-2 mb-0 rounded-0"),
        dcc.Interval(id=ids.DEMO_PROGRESS_INTERVAL, interval=1500, disabled=not filling),
    ])


@callback(
    Output(ids.DEMO_BANNER, "children"),
    Output(ids.DEMO_BANNER, "is_open"),
    Output(ids.DEMO_PROGRESS_INTERVAL, "disabled"),
    Input(ids.DEMO_PROGRESS_INTERVAL, "n_intervals"),
    prevent_initial_call=True,
)
def show_progress(_ticks):
    if runtime.demo_progress.filling:
        return _text(), True, False
    if runtime.demo_progress.error:
        return f"The demo could not be filled: {runtime.demo_progress.error}", True, True
    return no_update, False, True
