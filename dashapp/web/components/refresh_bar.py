"""Self-refresh for a page: a dcc.Interval, a refresh button, "updated HH:MM:SS, next in Ns",
and a banner when a refresh fails while the page keeps its last good numbers.

A page passes its own id prefix and gets the parts; its data callback returns a refresh state
made by ``refreshed`` or ``failed``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc, html

from dashapp import display
from dashapp.web import ids


@dataclass(frozen=True)
class RefreshIds:
    interval: str
    button: str
    state: str
    received: str
    text: str
    banner: str


def refresh_bar(rid: RefreshIds, refresh_seconds: int) -> html.Div:
    return html.Div([
        dcc.Interval(id=rid.interval, interval=refresh_seconds * 1000),
        dcc.Store(id=rid.state),
        dcc.Store(id=rid.received),
        html.Div([
            html.Span("loading…", id=rid.text, className="text-muted small me-2"),
            dbc.Button("Refresh", id=rid.button, size="sm", color="secondary", outline=True),
        ], className="d-flex align-items-center justify-content-end"),
        dbc.Alert(id=rid.banner, color="danger", is_open=False, className="mt-2 mb-0 small"),
    ])


def page_header(title: str, rid: RefreshIds, refresh_seconds: int) -> dbc.Row:
    """A self-refreshing page's first row: its title, and the refresh bar on the right."""
    return dbc.Row([
        dbc.Col(html.H4(title, className="mb-0"), xs=12, sm=6),
        dbc.Col(refresh_bar(rid, refresh_seconds), xs=12, sm=6),
    ], className="align-items-center mb-3 g-2")


def refreshed(now: datetime, every: int | None = None, drawn: str | None = None) -> dict:
    """A good refresh; ``every``: the seconds to the next one when the page changed its pace;
    ``drawn``: the fingerprint (``fingerprint``) of what the page drew."""
    state = {"ok": True, "updated_at": display.iso_utc(now), "error": None}
    if every:
        state["every"] = every
    if drawn:
        state["drawn"] = drawn
    return state


def fingerprint(*content: object) -> str:
    """What a refresh would draw, in a few bytes, to compare with the last one's."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:32]


def still_drawn(previous: dict | None, drawn: str) -> bool:
    """Whether the page already shows ``drawn``: then the refresh leaves it alone, so links and
    buttons are not swapped from under a pointer about to click them."""
    return bool(previous and previous.get("ok") and previous.get("drawn") == drawn)


def failed(now: datetime, previous: dict | None, error: str) -> dict:
    last_good = (previous or {}).get("updated_at")
    return {"ok": False, "updated_at": last_good, "attempted_at": display.iso_utc(now), "error": error}


def register_clientside(rid: RefreshIds) -> None:
    """The browser side: note when fresh data arrived, then tick the status text every second."""
    clientside_callback(
        ClientsideFunction("syncMonitor", "stampReceived"),
        Output(rid.received, "data"),
        Input(rid.state, "data"),
    )
    clientside_callback(
        ClientsideFunction("syncMonitor", "refreshStatus"),
        Output(rid.text, "children"),
        Output(rid.banner, "children"),
        Output(rid.banner, "is_open"),
        Input(ids.CLOCK_TICK, "n_intervals"),
        Input(rid.received, "data"),
        State(rid.state, "data"),
        State(ids.APP_CONFIG, "data"),
    )
