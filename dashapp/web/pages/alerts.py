"""Alerts (``/alerts``): firing alerts by severity with acknowledge and resolve-with-a-note for
operators, and the history with filters. Numbers: ``dashapp.payloads.alerts`` ->
``queries.alerts``; served as /api/alerts. Actions: ``dashapp.alerts.actions`` (checked and
audited on the server, like the API)."""

from __future__ import annotations

import re

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import ALL, ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from dashapp import display, runtime
from dashapp.alerts import actions as alert_actions
from dashapp.alerts.config import DEFAULTS, SEVERITIES
from dashapp.auth import users as auth
from dashapp.auth.disclosure import may_see_details, shown_error
from dashapp.payloads import alerts as alert_payloads
from dashapp.payloads import params, paths
from dashapp.web import ids
from dashapp.web.components.as_of_banner import viewed_at
from dashapp.web.components.filter_options import age_options
from dashapp.web.components.grid_fit import fit_to_phones, register_row_detail, row_detail, size_by_content
from dashapp.web.components.history_grid import zoned
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from dashapp.web.components.refresh_bar import (
    Refresh,
    RefreshIds,
    fingerprint,
    page_header,
    refresh_callback,
    refreshed,
    still_drawn,
)
from queries.alerts import ALERT_STATES
from queries.clock import utc_now

REFRESH = RefreshIds(
    interval=ids.ALERTS_INTERVAL, button=ids.ALERTS_REFRESH_BUTTON, state=ids.ALERTS_REFRESH_STATE,
    received=ids.ALERTS_REFRESH_RECEIVED, text=ids.ALERTS_REFRESH_TEXT, banner=ids.ALERTS_ERROR_BANNER,
)
COLOURS = {"critical": "danger", "warning": "warning"}


def layout(**_query: str) -> html.Div:
    settings = runtime.settings()
    refused = auth.refusal(settings, auth.current_user(settings), "acknowledge or resolve alerts")
    note = dbc.Alert(refused.read_only_note, color="secondary", className="py-2 small") if refused else ""
    zone = {"timeZone": settings.display_timezone}
    return html.Div([
        ignored_chips(unknown_parameters(_query, (params.AT,))),
        dcc.Store(id=ids.ALERTS_RESOLVE_TARGET),
        dcc.Store(id=ids.ALERTS_ACTION_DONE),
        dcc.Store(id=ids.ALERTS_REQUEST),
        page_header("Alerts", REFRESH, settings.refresh_seconds),
        note,
        html.Div(id=ids.ALERTS_COUNTS, className="mb-2"),
        dbc.Alert(id=ids.ALERTS_ACTION_RESULT, is_open=False, dismissable=True, className="py-2 small"),
        dbc.Card(dbc.CardBody([html.H6("Firing"), html.Div(id=ids.ALERTS_ACTIVE)]), className="shadow-sm mb-3"),
        dbc.Card(dbc.CardBody([
            html.H6("History"),
            dbc.Row([
                dbc.Col(dbc.Select(id=ids.ALERTS_RANGE, value=alert_payloads.DEFAULT_RANGE, size="sm",
                                   options=age_options(), name="range"), xs=12, md=3),
                dbc.Col(dcc.Dropdown(id=ids.ALERTS_STATE, options=list(ALERT_STATES), multi=True,
                                     placeholder="Any state"), xs=12, md=3),
                dbc.Col(dcc.Dropdown(id=ids.ALERTS_SEVERITY, options=list(SEVERITIES), multi=True,
                                     placeholder="Any severity"), xs=12, md=3),
                dbc.Col(dcc.Dropdown(id=ids.ALERTS_RULE, options=list(DEFAULTS), multi=True,
                                     placeholder="Any rule"), xs=12, md=3),
            ], className="g-2 mb-2"),
            fit_to_phones(size_by_content(dag.AgGrid(id=ids.ALERTS_HISTORY_GRID, rowData=[], columnDefs=[
                {"field": "fired_at", "headerName": "Fired", **zoned("Fired"), "cellRenderer": "LocalTime",
                 "cellRendererParams": zone, "width": 180},
                {"field": "severity", "headerName": "Severity", "width": 110},
                {"field": "rule", "headerName": "Rule", "width": 130},
                {"field": "subject", "headerName": "Subject", "cellRenderer": "AlertSubject", "width": 180},
                {"field": "state", "headerName": "State", "width": 100},
                # who acknowledged it and when (the bell counts only the firing ones nobody has)
                {"field": "acknowledged_at", "headerName": "Acknowledged", "width": 200,
                 "valueFormatter": {"function": "acknowledged(params.data)"}},
                {"field": "resolved_at", "headerName": "Resolved", **zoned("Resolved"), "cellRenderer": "LocalTime",
                 "cellRendererParams": zone, "width": 180},
                {"field": "resolved_by", "headerName": "By", "width": 110},
                {"field": "resolve_note", "headerName": "Note", "width": 180, "tooltipField": "resolve_note"},
                {"field": "summary", "headerName": "Summary", "minWidth": 300, "flex": 1, "tooltipField": "summary"},
            ], defaultColDef={"sortable": True, "resizable": True, "filter": True},
                getRowId="params.data.row_id", style={"height": "45vh", "width": "100%"}),
                text=("resolve_note", "summary")),
                ("rule", "acknowledged_at", "resolved_at", "resolved_by", "resolve_note", "summary"), first="state"),
            row_detail(ids.ALERTS_HISTORY_GRID),
        ]), className="shadow-sm"),
        dbc.Modal([
            dbc.ModalHeader(dbc.ModalTitle("Resolve alert")),
            dbc.ModalBody([dbc.Label("Note (what was done)", html_for=ids.ALERTS_RESOLVE_NOTE),
                           dbc.Textarea(id=ids.ALERTS_RESOLVE_NOTE, rows=3, maxLength=2000)]),
            dbc.ModalFooter(dbc.Button("Resolve", id=ids.ALERTS_RESOLVE_CONFIRM, color="primary")),
        ], id=ids.ALERTS_RESOLVE_MODAL, is_open=False),
    ])


RUN_SUBJECT = re.compile(r" run (\d{1,19})$")  # "stuck" names its run: "hubspot/contacts run 42"


def _run_link(subject: str) -> dcc.Link | None:
    found = RUN_SUBJECT.search(subject or "")
    return dcc.Link(f"open run #{found[1]}", href=paths.run(found[1]), className="ms-2 small run-link") \
        if found else None


def _active(rows: list[dict], can_act: bool, zone: str | None) -> html.Div:
    if not rows:
        return html.Div("Nothing is firing.", className="text-muted", id="no-firing-alerts")
    rows = sorted(rows, key=lambda r: (r["severity"] != "critical", r["fired_at"] or ""))
    items = []
    for r in rows:
        sent = r["notifications"]
        delivery = (f"notified {sent['sent']}" + (f", {sent['pending']} retrying" if sent["pending"] else "")
                    + (f", {sent['failed']} failed" if sent["failed"] else "")) if any(
            sent[k] for k in ("sent", "pending", "failed")) else "no notification channel configured"
        buttons = [
            dbc.Button("Acknowledge", id={"type": ids.ALERTS_ACK, "index": r["id"]}, size="sm", color="secondary",
                       outline=True, className="me-1", disabled=bool(r["acknowledged_by"])),
            dbc.Button("Resolve", id={"type": ids.ALERTS_RESOLVE, "index": r["id"]}, size="sm", color="primary",
                       outline=True),
        ] if can_act else []
        items.append(dbc.ListGroupItem([
            html.Div([
                dbc.Badge(r["severity"], color=COLOURS.get(r["severity"], "secondary"), className="me-2"),
                html.Strong(f"{r['rule']} · {r['subject']}"),
                _run_link(r["subject"]),
                html.Span(f" since {display.local_clock(r['fired_at'], zone)}", className="text-muted small",
                          title=r["fired_at"] or ""),
                html.Span(buttons, className="float-end"),
            ]),
            html.Div(r["summary"], className="small mt-1"),
            html.Div([f"acknowledged by {r['acknowledged_by']} · " if r["acknowledged_by"] else "", delivery,
                      html.Span(f" · last send error: {sent['error']}", className="text-danger")
                      if sent["error"] else ""], className="small text-muted"),
        ], id=f"alert-{r['id']}", className="firing-alert"))
    return dbc.ListGroup(items, flush=True)


@refresh_callback(
    REFRESH, [Output(ids.ALERTS_ACTIVE, "children"), Output(ids.ALERTS_COUNTS, "children"),
              Output(ids.ALERTS_HISTORY_GRID, "rowData")],
    [Input(ids.ALERTS_RANGE, "value"), Input(ids.ALERTS_STATE, "value"), Input(ids.ALERTS_SEVERITY, "value"),
     Input(ids.ALERTS_RULE, "value"), Input(ids.ALERTS_ACTION_DONE, "data"), State(ids.VIEWER_TIMEZONE, "data")],
    what="alerts",
)
def refresh_alerts(now, previous, range_, states, severities, rules, _done, zone) -> Refresh:
    """The firing alerts and the history; as of a past moment (``now`` is it), those firing then
    and the history up to then, with no buttons (what was done then is done) and a note of what
    was assumed."""
    settings = runtime.settings()
    details = may_see_details()  # a send error's text for operators, its class for anyone else
    at = viewed_at(now)
    moment = {"at": [display.iso_utc(at)]} if at is not None else {}
    active = alert_payloads.alerts_json(runtime.engine(), alert_payloads.alert_filter(
        {"state": ["firing"], "range": ["all"], **moment}, utc_now()), details=details)
    chosen = {"range": [range_ or alert_payloads.DEFAULT_RANGE], "state": states or [],
              "severity": severities or [], "rule": rules or [], **moment}
    history = alert_payloads.alerts_json(runtime.engine(), alert_payloads.alert_filter(chosen, utc_now()),
                                         details=details)
    counts = active["firing"]
    badges = [dbc.Badge(f"{severity} {counts.get(severity, 0)}", color=COLOURS[severity], className="me-1",
                        id=f"alerts-count-{severity}") for severity in ("critical", "warning")]
    if at is not None:
        badges.append(html.Div(f"As of this moment, assumed: {alert_payloads.ASSUMED}.",
                               className="small text-muted mt-1 as-of-assumed", id=ids.AS_OF_ASSUMED))
    can_act = at is None and auth.refusal(settings, auth.current_user(settings)) is None
    rows = [{**a, "row_id": str(a["id"])} for a in history["alerts"]]
    drawn = fingerprint(active["alerts"], can_act, zone, active.get("note"))  # the firing list, with its buttons
    firing = no_update if still_drawn(previous, drawn) else (
        dbc.Alert(active["note"], color="info", className="py-2 small", id=ids.ALERTS_NOT_MIGRATED_NOTE)
        if active.get("note") else _active(active["alerts"], can_act, zone))
    return Refresh((firing, badges, rows), refreshed(utc_now(), drawn=drawn))  # updated now, whatever it shows


clientside_callback(
    ClientsideFunction("syncMonitor", "alertRequest"),
    Output(ids.ALERTS_REQUEST, "data"),
    Output(ids.ALERTS_RESOLVE_MODAL, "is_open"),
    Output(ids.ALERTS_RESOLVE_TARGET, "data"),
    Input({"type": ids.ALERTS_ACK, "index": ALL}, "n_clicks"),
    Input({"type": ids.ALERTS_RESOLVE, "index": ALL}, "n_clicks"),
    Input(ids.ALERTS_RESOLVE_CONFIRM, "n_clicks"),
    State(ids.ALERTS_RESOLVE_TARGET, "data"),
    State(ids.ALERTS_RESOLVE_NOTE, "value"),
    prevent_initial_call=True,
)


@callback(
    Output(ids.ALERTS_ACTION_RESULT, "children"),
    Output(ids.ALERTS_ACTION_RESULT, "color"),
    Output(ids.ALERTS_ACTION_RESULT, "is_open"),
    Output(ids.ALERTS_ACTION_DONE, "data"),
    Input(ids.ALERTS_REQUEST, "data"),
    prevent_initial_call=True,
)
def act_on_alert(request: dict | None):
    """Acknowledge, or resolve with the dialog's note: ``request`` is {id, action, note} from the
    browser (``alertRequest``). The role is checked on the server, in ``alert_actions.act``."""
    try:
        alert_id, action, note = int(request["id"]), str(request["action"]), str(request.get("note") or "")
    except (TypeError, KeyError, ValueError):
        return "Not done: the request names no alert.", "danger", True, no_update
    if action not in ("acknowledge", "resolve"):
        return f"Not done: {action[:40]!r} is neither acknowledge nor resolve.", "danger", True, no_update
    settings = runtime.settings()
    try:
        outcome = alert_actions.act(settings, runtime.engine(), auth.current_user(settings), alert_id, action,
                                    note, "page")
    except SQLAlchemyError as exc:
        return f"Failed: {shown_error(exc)}", "danger", True, no_update
    ok = outcome.status == 200
    text = outcome.message if ok else f"Not done ({outcome.status}): {outcome.message}"
    return text, "success" if ok else "danger", True, utc_now().isoformat()


register_row_detail(ids.ALERTS_HISTORY_GRID)
