"""Health (``/health``): database, Redis and Celery in detail, on their own refresh interval.

Everything: ``dashapp.health.snapshot.system_health`` (probes in ``dashapp.health.probes``), the same
snapshot as /api/system-health.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html

from dashapp import display, runtime
from dashapp.auth import disclosure
from dashapp.errors import BadParameter
from dashapp.health import snapshot as health
from dashapp.web import ids
from dashapp.web.components import health_strip
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from dashapp.web.components.refresh_bar import as_of
from queries.clock import utc_now


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


def impossible_card(found: dict, zone: str | None) -> dbc.Col:
    """"Runs at impossible times": the count; for operators (the snapshot as shown holds them) up
    to 10 runs of each side, each linked to its run page, and a link to all in the history."""
    status = found.get("status", "unknown")
    count = found.get("count")
    about = "" if found.get("count_exact", True) else "at least "
    body: list = [html.P([html.Strong("—" if count is None else f"{about}{count:,}", id="health-impossible-count"),
                          f" runs start before {found.get('earliest') or '2000'} or more than a day from now "
                          "(±infinity included); they are left out of the hourly rollups."], className="small")]
    if count is None and found.get("error"):
        body.append(dbc.Alert(found["error"], color="danger", className="small py-2"))
    if found.get("runs"):
        head = html.Thead(html.Tr([html.Th(h) for h in ("run", "CRM", "type", "start")]))
        rows = [html.Tr([html.Td(dcc.Link(str(r["id"]), href=r["link"])), html.Td(display.crm_name(r["crm_source"])),
                         html.Td(r["sync_type"]),
                         html.Td(display.local_clock(r["start_time"], zone, seconds=True), title=r["start_time"])])
                for r in found["runs"]]
        body.append(dbc.Table([head, html.Tbody(rows)], size="sm", className="small", id="health-impossible-runs"))
    if found.get("history_link") and count:
        body.append(dcc.Link("Show them all in the history", href=found["history_link"], id="health-impossible-link"))
    return dbc.Col(dbc.Card([
        dbc.CardHeader([html.Strong("Runs at impossible times"),
                        dbc.Badge(status.replace("_", " "), color=health_strip.COLOURS.get(status, "secondary"),
                                  className="ms-2", id="health-status-impossible_times")]),
        dbc.CardBody(body),
    ], className="shadow-sm h-100"), xs=12, lg=6, xxl=3)


@callback(
    Output(ids.HEALTH_PAGE_BODY, "children"),
    Output(ids.HEALTH_PAGE_CHECKED, "children"),
    Input(ids.HEALTH_PAGE_INTERVAL, "n_intervals"),
    State(ids.VIEWER_TIMEZONE, "data"),
    State(ids.PAGE_LOCATION, "search"),
)
def refresh_health(_ticks, zone, search=None):
    """The services now, every HEALTH_REFRESH_SECONDS; as of the address's ``at``, their statuses as
    the app recorded them then (no figures: only changes are kept)."""
    try:
        at = as_of(search, utc_now())
    except BadParameter as exc:
        return [dbc.Col(dbc.Alert(str(exc), color="danger", className="small"))], ""
    if at is not None:
        recorded = disclosure.shown_health(health.recorded_health(runtime.engine(), at))
        note = f"as recorded at {display.local_clock(recorded['as_of'], zone, seconds=True)}: {recorded['note']}"
        if recorded.get("error"):
            note += f"; {recorded['error']}"
        return health_strip.details(recorded), note
    snapshot = disclosure.shown_health(health.system_health(runtime.settings(), runtime.engine()))
    checked = display.local_clock(snapshot.get("checked_at"), zone, seconds=True)
    cards = health_strip.details(snapshot)
    if isinstance(snapshot.get("impossible_times"), dict):
        cards.append(impossible_card(snapshot["impossible_times"], zone))
    return cards, f"checked {checked}, every {runtime.settings().health_refresh_seconds} s"
