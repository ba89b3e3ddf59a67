"""The navbar's bell: how many firing alerts nobody has acknowledged yet (red when any of them is
critical; its title also counts the firing ones already acknowledged), linking to /alerts.
Refreshed on its own interval by ``refresh_bell``; as of a past moment (the address's ``at``), the
alerts firing then."""

from __future__ import annotations

import logging

import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html
from sqlalchemy.exc import SQLAlchemyError

from dashapp import display, runtime
from dashapp.display import plural
from dashapp.errors import BadParameter, error_line
from dashapp.payloads import alerts as alert_payloads
from dashapp.payloads import paths
from dashapp.web import ids
from dashapp.web.components.refresh_bar import as_of
from queries.clock import utc_now

log = logging.getLogger(__name__)
# a bell drawn inline: no icon font or emoji font needed, nothing fetched
BELL = ("data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16' fill='white'>"
        "<path d='M8 16a2 2 0 0 0 2-2H6a2 2 0 0 0 2 2zm.995-14.901a1 1 0 1 0-1.99 0A5.002 5.002 0 0 0 3 6c0 "
        "1.098-.5 6-2 7h14c-1.5-1-2-5.902-2-7 0-2.42-1.72-4.44-4.005-4.901z'/></svg>")


def alert_bell(refresh_seconds: int) -> html.A:
    return html.A([
        html.Img(src=BELL, alt="", width=16, height=16, className="me-1 alert-bell-icon"),
        dbc.Badge("0", id=ids.ALERTS_BELL_COUNT, color="secondary", pill=True),
        dcc.Interval(id=ids.ALERTS_BELL_INTERVAL, interval=refresh_seconds * 1000),
    ], href=paths.href("/alerts"), id=ids.ALERTS_BELL, className="text-light text-decoration-none me-3",
        title="Firing alerts not yet acknowledged")


def bell(counts: dict[str, dict[str, int]]) -> tuple[str, str, str]:
    """The bell's count, colour and title: firing alerts not yet acknowledged (red when one of them
    is critical, amber when any, grey when only acknowledged ones fire, green when none does)."""
    waiting, acked = counts.get("unacknowledged") or {}, counts.get("acknowledged") or {}
    total, seen = sum(waiting.values()), sum(acked.values())
    colour = "danger" if waiting.get("critical") else "warning" if total else "secondary" if seen else "success"
    title = (f"{plural(total, 'firing alert')} not yet acknowledged"
             + (f"; {seen:,} more firing, acknowledged" if seen else ""))
    return str(total), colour, title


@callback(
    Output(ids.ALERTS_BELL_COUNT, "children"),
    Output(ids.ALERTS_BELL_COUNT, "color"),
    Output(ids.ALERTS_BELL, "title"),
    Input(ids.ALERTS_BELL_INTERVAL, "n_intervals"),
    Input(ids.PAGE_LOCATION, "search"),
)
def refresh_bell(_ticks, search=None):
    try:
        at = as_of(search, utc_now())
    except BadParameter:
        at = None  # the banner says why; the bell shows now
    try:
        counts = alert_payloads.firing_counts(runtime.engine(), at)
    except SQLAlchemyError as exc:  # no app tables yet, or the database is down: the bell says "?"
        log.debug("alert bell: %s", error_line(exc))
        return "?", "secondary", "Firing alerts: unknown (the database did not answer)"
    count, colour, title = bell(counts)
    return count, colour, title if at is None else f"As of {display.iso_utc(at)}: {title}"
