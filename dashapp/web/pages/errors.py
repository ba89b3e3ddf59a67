"""Errors (``/errors``): the latest failures, error classes, and the CRMs that fail most.

Everything: ``dashapp.payloads.errors.errors_payload`` (the shared cache) -> ``errors_frames`` ->
``queries.errors``; served as /api/errors.
Clicking a class (bar or link) opens the history filtered to its runs.
"""

from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html, no_update

from dashapp import display, runtime
from dashapp.payloads import errors as payloads
from dashapp.payloads import paths
from dashapp.web import ids
from dashapp.web.components import as_of_note, figures
from dashapp.web.components.chart_box import chart
from dashapp.web.components.filter_options import chosen_window, range_control
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from dashapp.web.components.long_text import long_message
from dashapp.web.components.refresh_bar import RefreshIds, page_header, refresh_callback
from queries.outcomes import FAILURE_RATE_HELP, PARTIAL_RATE_HELP

DEFAULT_RANGE = "7d"
REFRESH = RefreshIds(
    interval=ids.ERRORS_INTERVAL, button=ids.ERRORS_REFRESH_BUTTON, state=ids.ERRORS_REFRESH_STATE,
    received=ids.ERRORS_REFRESH_RECEIVED, text=ids.ERRORS_REFRESH_TEXT, banner=ids.ERRORS_ERROR_BANNER,
)


def layout(**_query: str) -> html.Div:
    settings = runtime.settings()
    return html.Div([
        ignored_chips(unknown_parameters(_query, ("at",))),
        dcc.Location(id=ids.ERRORS_NAVIGATE, refresh=True),
        page_header("Errors", REFRESH, settings.refresh_seconds),
        as_of_note.note(ids.ERRORS_AS_OF_NOTE, as_of_note.at_of_query(_query),
                        "failed and partial runs started in the window ending then and over by then; a run that "
                        "ended later was still running and is not counted (one longer than 7 days across the "
                        "moment counts with its final status). Class links open the history as of then."),
        dbc.Row(dbc.Col(range_control(ids.ERRORS_RANGE, DEFAULT_RANGE), xs=12), className="mb-3"),
        dbc.Row([
            dbc.Col(dbc.Card(dbc.CardBody([
                chart(dcc.Graph(id=ids.ERRORS_CLASS_CHART, config={"displaylogo": False})),
                html.Div(id=ids.ERRORS_CLASS_TABLE),
            ]), className="shadow-sm h-100"), xs=12, lg=7),
            dbc.Col(dbc.Card(dbc.CardBody([
                html.H6("Most problematic CRMs"), html.Div(id=ids.ERRORS_CRM_RATES),
            ]), className="shadow-sm h-100"), xs=12, lg=5),
        ], className="g-3 mb-3"),
        dbc.Card(dbc.CardBody([html.H6("Latest failed and partial runs"), html.Div(id=ids.ERRORS_RECENT)]),
                 className="shadow-sm"),
    ])


def _class_table(classes: list[dict]) -> dbc.Table | html.Div:
    if not classes:
        return html.Div()
    rows = [html.Tr([
        html.Td(f"{rank}.", className="text-muted"),
        html.Td(f"{c['count']:,}", className="text-end",
                title=f"{c.get('failed', 0):,} failed, {c.get('partial', 0):,} partial"),
        html.Td(dcc.Link(c["error_class"], href=c["history_link"], className="error-class-link text-break")),
    ]) for rank, c in enumerate(classes, start=1)]
    return dbc.Table([html.Thead(html.Tr([html.Th(""), html.Th("Runs", className="text-end",
                                                                 title="failed and partial runs"),
                                          html.Th("Error class")])),
                      html.Tbody(rows)], size="sm", hover=True, className="mt-2 small")


def _rates_table(rates: list[dict]) -> dbc.Table | html.Div:
    if not rates:
        return html.Div("No finished runs in this period.", className="text-muted")
    rows = [html.Tr([html.Td(r["name"]), html.Td(f"{r['failure_rate']:.2f}%", className="text-end text-danger"),
                     html.Td(f"{r['partial_rate']:.2f}%", className="text-end text-warning-emphasis"),
                     html.Td(f"{r['failed']:,} + {r['partial']:,} of {r['finished']:,}",
                             className="text-end text-muted")])
            for r in rates]
    return dbc.Table([html.Thead(html.Tr([html.Th("CRM"),
                                          html.Th("Failure rate", className="text-end", title=FAILURE_RATE_HELP),
                                          html.Th("Partial rate", className="text-end", title=PARTIAL_RATE_HELP),
                                          html.Th("Failed + partial", className="text-end")])),
                      html.Tbody(rows)], size="sm", className="small", id="crm-failure-rates-table")


def _recent_list(recent: list[dict], zone: str | None, at: datetime | None = None) -> dbc.ListGroup | html.Div:
    if not recent:
        return html.Div("No failed or partial runs recorded.", className="text-muted")
    return dbc.ListGroup([
        dbc.ListGroupItem([
            html.Div([html.Span([html.Strong(f"{r['name']} · {r['sync_type']}"),
                                 html.Span(r["status"] or "?", className="badge ms-2 text-bg-" + (
                                     "warning" if r.get("status_class") == "partial" else "danger")),
                                 dcc.Link(f"#{r['id']}", href=paths.with_at(paths.run(r['id']), at),
                                          className="ms-2 small run-link")]),
                      html.Span(display.local_clock(r["start_time"], zone, seconds=True),
                                className="text-muted small", title=r["start_time"] or "")],
                     className="d-flex flex-wrap justify-content-between column-gap-2"),  # the time wraps under
            long_message(r["error_message"], r.get("message_length"), r.get("message_truncated", False), r["id"],
                         class_name="mb-0 small text-wrap text-break " + (
                             "text-warning-emphasis" if r.get("status_class") == "partial" else "text-danger")),
        ]) for r in recent
    ], flush=True)


@refresh_callback(
    REFRESH, [Output(ids.ERRORS_CLASS_CHART, "figure"), Output(ids.ERRORS_CLASS_TABLE, "children"),
              Output(ids.ERRORS_CRM_RATES, "children"), Output(ids.ERRORS_RECENT, "children")],
    [Input(ids.ERRORS_RANGE, "value"), Input(ids.THEME_MODE, "data"), Input(ids.VIEWER_TIMEZONE, "data")],
    what="errors",
)
def refresh_errors(now, _previous, chosen_range, mode, zone) -> tuple:
    """``now``: the moment shown (a page as of ``at``: its window ends there)."""
    at = as_of_note.viewed_at()
    data = payloads.errors_payload(runtime.engine(), chosen_window(chosen_range, now, DEFAULT_RANGE), now,
                                   as_of=at is not None)
    why = f"No failed or partial runs from {_utc(data['start'])} to {_utc(data['end'])} UTC"
    return (figures.themed(figures.error_classes(data["error_classes"], why), mode),
            _class_table(data["error_classes"]),
            _rates_table(data["crm_failure_rates"]), _recent_list(data["recent_failures"], zone, at))


def _utc(moment: str | None) -> str:
    """An ISO UTC time of the payload as "2026-12-06 09:30"."""
    return (moment or "")[:16].replace("T", " ")


@callback(
    Output(ids.ERRORS_NAVIGATE, "href"),
    Input(ids.ERRORS_CLASS_CHART, "clickData"),
    prevent_initial_call=True,
)
def open_class(click):
    points = (click or {}).get("points") or []
    if not points or not points[0].get("customdata"):
        return no_update
    return points[0]["customdata"][0]
