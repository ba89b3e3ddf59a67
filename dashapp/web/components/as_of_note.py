"""What a page shown as of a past moment (its URL's ``at``) says about it, and how its callbacks
learn that moment: ``viewed_at`` reads the page's query string from the callback's own States
(``refresh_callback`` passes ``ids.PAGE_LOCATION``'s search to every page's build)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import ctx, html

from dashapp.web import ids
from dashapp.web.components.refresh_bar import as_of
from queries.clock import utc_now


def viewed_at() -> datetime | None:
    """The ``at`` of the page whose callback is running (None when live or outside a callback);
    a bad one is a BadParameter, which ``refresh_callback`` shows."""
    try:
        search = ctx.states.get(f"{ids.PAGE_LOCATION}.search")
    except (AttributeError, LookupError, TypeError):  # outside a callback
        return None
    return as_of(search, utc_now())


def at_of_query(query: dict) -> datetime | None:
    """The ``at`` of a page layout's query keywords, None when live or not a valid moment (the
    refresh says why)."""
    from dashapp.errors import BadParameter

    raw = query.get("at")
    try:
        return as_of(f"?at={quote(raw)}" if isinstance(raw, str) else "", utc_now())
    except BadParameter:
        return None


def note(component_id: str, at: datetime | None, text: str) -> dbc.Alert | html.Div:
    """The page's note on what it shows as of ``at`` (hidden when live)."""
    if at is None:
        return html.Div(id=component_id, className="d-none")
    return dbc.Alert([html.Strong(f"As of {at:%Y-%m-%d %H:%M} UTC: "), text], id=component_id,
                     color="secondary", className="py-2 small mb-2")
