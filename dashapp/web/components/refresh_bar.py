"""Self-refresh for a page: a dcc.Interval, a refresh button, "updated HH:MM:SS, next in Ns",
and a banner when a refresh fails while the page keeps its last good numbers.

A page passes its own ids (``RefreshIds``) and gets the parts; ``refresh_callback`` registers its
data callback: the interval, the button and the last refresh state wired in, the page stating only
its outputs, its inputs and how to build them. The state it returns is made by ``refreshed`` or
``failed``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import parse_qs

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from dashapp import display
from dashapp.auth.disclosure import shown_error
from dashapp.errors import BadParameter, error_line
from dashapp.payloads import params
from dashapp.web import ids
from queries.clock import utc_now
from queries.history import parse_time


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


def refreshed(now: datetime, every: int | None = None, drawn: str | None = None, at: datetime | None = None) -> dict:
    """A good refresh; ``every``: the seconds to the next one when the page changed its pace;
    ``drawn``: the fingerprint (``fingerprint``) of what the page drew; ``at``: the moment shown,
    when the page shows one instead of now (``as_of``)."""
    state = {"ok": True, "updated_at": display.iso_utc(now), "error": None}
    if at is not None:
        state["at"] = display.iso_utc(at)
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


def as_of(search: object, now: datetime, strict: bool = False) -> datetime | None:
    """The ``at`` of a page's query string (``params.at``), None when live. A bad one shows the
    page live (the banner, which asks ``strict``ly and gets the BadParameter, says why)."""
    args = parse_qs(search.lstrip("?"), keep_blank_values=True) if isinstance(search, str) else {}
    if strict:
        return params.at(args, now)
    try:
        return params.at(args, now)
    except BadParameter:
        return None


def at_of(state: object) -> datetime | None:
    """The moment a refresh state says its page shows (``refreshed(..., at=)``), None when live."""
    value = state.get("at") if isinstance(state, dict) else None
    return parse_time(value, params.AT) if isinstance(value, str) else None


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


def chosen(value: object, choices: Collection[int], default: int) -> int:
    """A select's value (as the browser sent it: anything) as one of ``choices``, else ``default``."""
    return {str(choice): choice for choice in choices}.get(str(value), default)


@dataclass(frozen=True)
class Refresh:
    """What a page's build returns when its refresh state says more than "refreshed now"
    (``refreshed(now, every)``, the panels loaded so far, or ``failed`` when every panel failed)."""
    outputs: tuple
    state: dict


def problem_shown(exc: Exception) -> str:
    """The banner's words for a refresh that failed: a database error as this viewer may see it,
    a bad filter value as it is."""
    return shown_error(exc) if isinstance(exc, SQLAlchemyError) else str(exc)


def refresh_callback(rid: RefreshIds, outputs: Sequence[Output], inputs: Sequence[Input | State] = (), *,
                     what: str, problem: Callable[[Exception], str] = problem_shown,
                     ) -> Callable[[Callable[..., tuple | Refresh]], Callable[..., tuple]]:
    """Register a self-refreshing page's data callback, and its refresh bar's browser side.

    The callback fills ``outputs`` and the refresh state, on the interval, the Refresh button and
    any of ``inputs`` (the page's filters, theme, zone: Inputs, then States). The decorated
    ``build(now, previous, *values)`` gets the moment the page shows (its query string's ``at``,
    else now: ``refreshed`` records which), the last refresh state and the values of ``inputs``,
    and returns the outputs' values (the state: ``refreshed(now)``) or a
    ``Refresh``. When it raises a database error or a BadParameter, the log gets the detail
    ("<what> refresh failed: ..."), every output stays as it was and the banner says ``problem(exc)``.
    """
    count = len(outputs)

    def register(build: Callable[..., tuple | Refresh]) -> Callable[..., tuple]:
        page_log = logging.getLogger(build.__module__)

        @wraps(build)
        def refresh_page(_ticks: int | None, _clicks: int | None, *values: Any) -> tuple:
            *page_values, search, previous = values
            now = utc_now()
            try:
                at = as_of(search, now)
                built = build(at or now, previous, *page_values)
            except (SQLAlchemyError, BadParameter) as exc:
                page_log.warning("%s refresh failed: %s", what, error_line(exc))
                return (*(no_update for _ in range(count)), failed(now, previous, problem(exc)))
            if isinstance(built, Refresh):
                return (*built.outputs, built.state if at is None else {**built.state, "at": display.iso_utc(at)})
            return (*built, refreshed(now, at=at))

        del refresh_page.__wrapped__  # Dash calls it with the interval and button first, not as ``build``
        callback(*outputs, Output(rid.state, "data"), Input(rid.interval, "n_intervals"),
                 Input(rid.button, "n_clicks"), *inputs, State(ids.PAGE_LOCATION, "search"),
                 State(rid.state, "data"))(refresh_page)
        register_clientside(rid)
        return refresh_page

    return register
