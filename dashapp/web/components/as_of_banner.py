"""The banner under the navbar while the app is shown as of a moment (the address's ``at``):
"As of 2026-12-04 03:12 UTC (2 h ago) · Live", in the viewer's display zone (labelled), with the
time control's input set to that moment. A bad ``at`` says why instead. Live: no banner.

``viewed_at`` tells a page's build (which gets the moment it shows: ``at``, else now) whether it
shows a past moment."""

from __future__ import annotations

from datetime import datetime, timedelta

import dash_bootstrap_components as dbc
from dash import Input, Output, callback, html

from dashapp import display
from dashapp.errors import BadParameter
from dashapp.payloads import paths
from dashapp.web import ids
from dashapp.web.components.refresh_bar import as_of
from dashapp.web.components.time_control import local_value
from queries.clock import utc_now

LIVE = timedelta(seconds=5)  # a moment this close to now is now (as the result cache reads it)


def viewed_at(moment: datetime) -> datetime | None:
    """``moment`` when it is a past one (a view's ``at``), None when it is now."""
    return moment if utc_now() - moment > LIVE else None


def as_of_banner() -> dbc.Alert:
    return dbc.Alert([
        html.Span("", id=ids.AS_OF_BANNER_TEXT),
        " · ",
        html.A("Live", id=ids.AS_OF_BANNER_LIVE, href=paths.href("/"), className="alert-link as-of-live-link",
               **{"data-live": "1"}),
    ], id=ids.AS_OF_BANNER, color="warning", is_open=False, className="small py-2 mb-0 rounded-0 as-of-banner")


def ago(moment: datetime, now: datetime) -> str:
    """``2 h ago``, ``3 d 4 h ago``."""
    return f"{display.span((now - moment).total_seconds())} ago"


def banner_text(moment: datetime, zone: str | None, now: datetime) -> str:
    """``As of 2026-12-04 03:12 UTC (2 h ago)``; in another zone, the UTC time after it."""
    local = display.local_clock(moment, zone)
    utc = display.local_clock(moment, "UTC")
    return f"As of {local} ({ago(moment, now)})" + ("" if local == utc else f" · {utc}")


@callback(
    Output(ids.AS_OF_BANNER_TEXT, "children"), Output(ids.AS_OF_BANNER, "is_open"),
    Output(ids.AS_OF_BANNER, "color"), Output(ids.AS_OF_INPUT, "value"), Output(ids.AS_OF_ZONE, "children"),
    Output(ids.AS_OF_TOGGLE, "children"), Output(ids.AS_OF_TOGGLE, "color"),
    Input(ids.PAGE_LOCATION, "search"), Input(ids.VIEWER_TIMEZONE, "data"),
)
def show_as_of(search: object, zone: object):
    """The banner, the control's input and its zone for the address's ``at``, and the navbar's
    button: green "Live" when the app shows now, amber "As of 12-04 03:12 UTC" when the past."""
    now = utc_now()
    zone = zone if isinstance(zone, str) and zone else None
    label = display.zone_name(zone)
    try:
        moment = as_of(search, now, strict=True)
    except BadParameter as exc:
        why = f"Cannot show the app as of that moment: {exc.problem}. Showing now."
        return why, True, "danger", "", label, "Live", "success"
    if moment is None:
        return "", False, "warning", local_value(now, zone or "UTC"), label, "Live", "success"
    clock = display.local_clock(moment, zone)
    return (banner_text(moment, zone, now), True, "warning", local_value(moment, zone or "UTC"), label,
            f"As of {clock[5:]}", "warning")
