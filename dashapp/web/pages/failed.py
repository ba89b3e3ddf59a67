"""Failed operations (``/failed``): failed and partial runs with the app's record of each, retry
one, the selected or all matching (operators, after a confirmation), and the audit log.

Numbers: ``dashapp.payloads.failed`` -> ``queries.failed_operations``; served as
/api/failed-operations and /api/audit. Actions: ``dashapp.retries.action`` (the same checks as the
API). The page refreshes every 2 s while a retry is queued or running.
"""

from __future__ import annotations

import json
import logging

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from dashapp import display, runtime
from dashapp.auth import users as auth
from dashapp.auth.disclosure import may_see_details, shown_error
from dashapp.errors import BadParameter, database_problem, error_line
from dashapp.payloads import failed as failed_payloads
from dashapp.payloads import paths
from dashapp.retries import action as retry_action
from dashapp.web import ids
from dashapp.web.components import as_of_note
from dashapp.web.components.failed_grid import failed_grid
from dashapp.web.components.filter_options import age_options, filter_options
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from dashapp.web.components.long_text import cell_text, length_note, long_message
from dashapp.web.components.refresh_bar import (
    Refresh,
    RefreshIds,
    as_of,
    page_header,
    problem_shown,
    refresh_callback,
    refreshed,
)
from queries import failed_operations as queries
from queries.clock import utc_now

log = logging.getLogger(__name__)
REFRESH = RefreshIds(
    interval=ids.FAILED_INTERVAL, button=ids.FAILED_REFRESH_BUTTON, state=ids.FAILED_REFRESH_STATE,
    received=ids.FAILED_REFRESH_RECEIVED, text=ids.FAILED_REFRESH_TEXT, banner=ids.FAILED_ERROR_BANNER,
)
BUSY_SECONDS = 2  # the pace while retries are queued or running
STATE_COLOURS = {"failed": "danger", "queued": "info", "running": "primary", "resolved": "success",
                 "abandoned": "dark"}


def _access_note(settings, user: auth.User | None) -> tuple[html.Div | str, bool]:
    """What this viewer may do, in words, and whether the action buttons show."""
    refused = auth.refusal(settings, user)
    if refused is not None:
        if refused.status == 401:
            sign_in = paths.href("/sign-in?next=" + paths.href("/failed"))
            note = html.Span(["Read-only. ", dcc.Link("Sign in", href=sign_in),
                              " as an operator to retry."])
        else:
            note = html.Span(refused.read_only_note)
        return dbc.Alert(note, color="secondary", className="py-2 small mb-3"), False
    if not settings.celery_broker_url:
        return dbc.Alert("Retries need a Celery broker: set CELERY_BROKER_URL (or REDIS_URL) and run "
                         "`celery -A dashapp.worker worker`.", color="warning", className="py-2 small mb-3"), False
    return "", True


def layout(**_query: str) -> html.Div:
    settings = runtime.settings()
    user = auth.current_user(settings)
    note, can_act = _access_note(settings, user)
    at = as_of_note.at_of_query(_query)
    if at is not None:
        can_act = False  # retries act on the present
    return html.Div([
        ignored_chips(unknown_parameters(_query, ("at",))),
        as_of_note.note(ids.FAILED_AS_OF_NOTE, at, "operations whose run had failed by then, each in the state its "
                        "retries queued by then gave it. Retries act on the present: press Live to retry."),
        dcc.Store(id=ids.FAILED_PENDING),
        dcc.Store(id=ids.FAILED_ACTION_DONE),
        dcc.Store(id=ids.FAILED_DETAILS_ID),
        page_header("Failed operations", REFRESH, settings.refresh_seconds),
        html.Div(note, id=ids.FAILED_ACCESS_NOTE),
        dbc.Row([
            dbc.Col(dbc.Select(id=ids.FAILED_RANGE, value=failed_payloads.DEFAULT_RANGE, size="sm",
                               options=age_options(), name="range"), xs=12, md=2),
            dbc.Col(dcc.Dropdown(id=ids.FAILED_CRM, options=filter_options("crm_source"), multi=True,
                                 placeholder="All CRMs"), xs=12, md=3),
            dbc.Col(dcc.Dropdown(id=ids.FAILED_SYNC_TYPE, options=filter_options("sync_type"), multi=True,
                                 placeholder="All sync types"), xs=12, md=3),
            dbc.Col(dcc.Dropdown(id=ids.FAILED_STATE, options=list(queries.STATES),
                                 value=[], multi=True,
                                 placeholder="Any state"), xs=12, md=4),
        ], className="g-2 mb-2"),
        html.Div(id=ids.FAILED_STATE_COUNTS, className="mb-2"),
        html.Div([
            dbc.Button("Retry selected", id=ids.FAILED_RETRY_SELECTED, color="primary", size="sm",
                       className="me-2", disabled=True),
            dbc.Button("Retry all matching", id=ids.FAILED_RETRY_MATCHING, color="outline-primary", size="sm",
                       disabled=True),
        ], id=ids.FAILED_ACTIONS, className="mb-2" if can_act else "d-none"),
        dbc.Alert(id=ids.FAILED_ACTION_RESULT, is_open=False, dismissable=True, className="py-2 small"),
        failed_grid(settings.display_timezone, can_act),
        html.Div(id=ids.FAILED_SHOWING, className="small text-muted mt-1 mb-3"),
        dbc.Card(dbc.CardBody([html.H6("Audit log"), html.Div(id=ids.FAILED_AUDIT)]), className="shadow-sm"),
        dbc.Modal([
            dbc.ModalHeader(dbc.ModalTitle("Retry")),
            dbc.ModalBody(id=ids.FAILED_CONFIRM_TEXT),
            dbc.ModalFooter([
                dbc.Button("Cancel", id=ids.FAILED_CANCEL_BUTTON, color="secondary", outline=True),
                dbc.Button("Retry", id=ids.FAILED_CONFIRM_BUTTON, color="primary"),
            ]),
        ], id=ids.FAILED_CONFIRM, is_open=False),
        dbc.Offcanvas([
            html.Div(id=ids.FAILED_DETAILS_BODY),
            dbc.Button("Retry this operation", id=ids.FAILED_RETRY_ONE, color="primary", size="sm",
                       className="mt-3" if can_act else "d-none"),
        ], id=ids.FAILED_DETAILS, title="Operation", placement="end", is_open=False, style={"width": "36rem"}),
    ])


def _spec(range_, crm_sources, sync_types, states) -> dict:
    """The page's filter controls as a bulk retry's filter (the names of the query string)."""
    return {"range": range_ or failed_payloads.DEFAULT_RANGE, "crm_source": crm_sources or [],
            "sync_type": sync_types or [], "state": states or []}


def _filter(spec: object):
    """A filter (the controls' ``_spec``, as the browser sent it: anything) as an OperationFilter;
    a value of the wrong type or too many values is a BadParameter naming it. The deprecated names
    (``age``, ``operation_type``) are read as the API reads them."""
    return failed_payloads.operation_filter(failed_payloads.filter_args(spec), utc_now())


def _state_badges(counts: dict[str, int]) -> list:
    return [dbc.Badge(f"{state} {counts[state]:,}", color=STATE_COLOURS[state], className="me-1 state-count",
                      id=f"state-count-{state}") for state in queries.STATES]


def _audit_table(rows: list[dict] | None, zone: str | None) -> dbc.Table | html.Div:
    if rows is None:
        return html.Div("Operators see the audit log here.", className="text-muted small")
    if not rows:
        return html.Div("No actions yet.", className="text-muted small")
    header = html.Thead(html.Tr([html.Th(h) for h in ("When", "Who", "Action", "What", "Operations",
                                                      "Result", "Detail")]))
    body = html.Tbody([html.Tr([
        html.Td(display.local_clock(r["at"], zone, seconds=True), className="text-nowrap", title=r["at"] or ""),
        html.Td(f"{r['actor']} ({r['role']})"),
        html.Td(r["action"] if r["source"] == "sign-in" else f"{r['action']} · {r['source']}"),
        html.Td(r["target"] or "", className="text-break"), html.Td(f"{r['operations']:,}", className="text-end"),
        html.Td([dbc.Badge(r["result"], color={"ok": "success", "denied": "danger", "failed": "danger",
                                               "partial": "warning"}.get(r["result"], "secondary")),
                 html.Span(f" ×{r['repeats']:,}", title=f"{r['repeats']:,} requests in this minute")
                 if r.get("repeats", 1) > 1 else ""], className="text-nowrap"),
        html.Td(r["detail"] or "", className="text-break"),
    ]) for r in rows])
    return dbc.Table([header, body], size="sm", className="small mb-0", responsive=True)


def _problem(exc: Exception) -> str:
    """The banner's words; before ``db upgrade`` the app's tables are missing, and it says so."""
    if isinstance(exc, SQLAlchemyError) and "failed_operations" in error_line(exc) \
            and database_problem(exc).kind == "missing_table":  # not "permission denied"
        return "the app's tables are missing: run `python app.py db upgrade`"
    return problem_shown(exc)


@refresh_callback(
    REFRESH, [Output(ids.FAILED_GRID, "rowData"), Output(ids.FAILED_STATE_COUNTS, "children"),
              Output(ids.FAILED_SHOWING, "children"), Output(ids.FAILED_AUDIT, "children"),
              Output(ids.FAILED_RETRY_MATCHING, "children"), Output(ids.FAILED_RETRY_MATCHING, "disabled"),
              Output(REFRESH.interval, "interval")],
    [Input(ids.FAILED_RANGE, "value"), Input(ids.FAILED_CRM, "value"), Input(ids.FAILED_SYNC_TYPE, "value"),
     Input(ids.FAILED_STATE, "value"), Input(ids.FAILED_ACTION_DONE, "data"), State(ids.VIEWER_TIMEZONE, "data")],
    what="failed-operations", problem=_problem,
)
def refresh_failed(now, _previous, range_, crm_sources, sync_types, states, _done, zone) -> Refresh:
    settings = runtime.settings()
    at = as_of_note.viewed_at()
    f = failed_payloads.operation_filter(failed_payloads.filter_args(_spec(range_, crm_sources, sync_types, states)),
                                         now, at)
    if at is not None:
        data = failed_payloads.operations_json_at(runtime.engine(), f, at, 500, settings.retry_max_attempts,
                                                  details=may_see_details())
    else:
        data = failed_payloads.operations_json(runtime.engine(), f, 500, settings.retry_max_attempts,
                                               details=may_see_details())
    may_read_audit = auth.refusal(settings, auth.current_user(settings), "read the audit log") is None
    audit_rows = failed_payloads.audit_json(runtime.engine(), 50) if may_read_audit else None
    counts = data["counts"]
    shown = len(data["operations"])
    showing = (f"Showing the newest {shown:,} of {data['total']:,} matching operations." if data["total"] > shown
               else f"{data['total']:,} matching operations." if shown else "No failed operations match these filters.")
    retryable = counts["failed"] if failed_payloads.retryable(f) and at is None else 0
    busy = counts["queued"] + counts["running"] > 0
    every = BUSY_SECONDS if busy else settings.refresh_seconds
    # the payload shows in an operation's details, which read it again: the grid's rows go without
    rows = [{**{k: v for k, v in operation.items() if not k.startswith("payload")}, "row_id": str(operation["id"])}
            for operation in data["operations"]]
    if data.get("note"):  # before db upgrade: the runs alone, read-only, and what the upgrade turns on
        showing = [dbc.Alert(data["note"], color="info", className="py-2 small mb-1", id=ids.FAILED_READ_ONLY_NOTE),
                   showing]
    if at is not None:  # the past does not change: no faster pace for queued or running retries
        every = settings.refresh_seconds
    return Refresh((rows, _state_badges(counts), showing, _audit_table(audit_rows, zone),
                    f"Retry all matching ({retryable:,})", retryable == 0, every * 1000),
                   refreshed(utc_now(), every, at=at))


@callback(
    Output(ids.FAILED_RETRY_SELECTED, "children"),
    Output(ids.FAILED_RETRY_SELECTED, "disabled"),
    Input(ids.FAILED_GRID, "selectedRows"),
)
def count_selected(rows):
    n = len(rows or [])
    return f"Retry selected ({n})", n == 0


@callback(
    Output(ids.FAILED_CONFIRM, "is_open"),
    Output(ids.FAILED_CONFIRM_TEXT, "children"),
    Output(ids.FAILED_PENDING, "data"),
    Input(ids.FAILED_RETRY_SELECTED, "n_clicks"),
    Input(ids.FAILED_RETRY_MATCHING, "n_clicks"),
    Input(ids.FAILED_RETRY_ONE, "n_clicks"),
    Input(ids.FAILED_CANCEL_BUTTON, "n_clicks"),
    State(ids.FAILED_GRID, "selectedRows"),
    State(ids.FAILED_DETAILS_ID, "data"),
    State(ids.FAILED_RANGE, "value"),
    State(ids.FAILED_CRM, "value"),
    State(ids.FAILED_SYNC_TYPE, "value"),
    State(ids.FAILED_STATE, "value"),
    prevent_initial_call=True,
)
def ask_to_confirm(_selected, _matching, _one, _cancel, rows, detail_id, range_, crm_sources, sync_types, states):
    trigger = ctx.triggered_id
    if trigger == ids.FAILED_CANCEL_BUTTON or not (ctx.triggered and ctx.triggered[0].get("value")):
        return False, no_update, None
    if trigger == ids.FAILED_RETRY_ONE:
        if not detail_id:
            return False, no_update, None
        pending = {"ids": [int(detail_id)]}
        text = f"Retry operation {int(detail_id)} now? Its retry is sent to Celery at once."
    elif trigger == ids.FAILED_RETRY_SELECTED:
        chosen = [int(r["id"]) for r in rows or []]
        if not chosen:
            return False, no_update, None
        failed_now = sum(1 for r in rows if r.get("state") == "failed")
        pending = {"ids": chosen}
        text = (f"Retry the {len(chosen):,} selected operations? {failed_now:,} of them are in state failed and "
                "will be queued; the others are skipped.")
    else:
        spec = _spec(range_, crm_sources, sync_types, states)
        f = _filter(spec)
        counts = queries.count_by_state(runtime.engine(), f)
        matching = sum(counts[s] for s in (f.states or queries.STATES))
        retryable = counts["failed"] if failed_payloads.retryable(f) else 0
        pending = {"filter": spec}
        text = (f"Retry all {retryable:,} failed operations matching the filter ({failed_payloads.describe(f)})? "
                f"{matching:,} operations match in all; those queued, running, resolved or abandoned are left as "
                "they are.")
    return True, text, pending


@callback(
    Output(ids.FAILED_ACTION_RESULT, "children"),
    Output(ids.FAILED_ACTION_RESULT, "color"),
    Output(ids.FAILED_ACTION_RESULT, "is_open"),
    Output(ids.FAILED_ACTION_DONE, "data"),
    Output(ids.FAILED_CONFIRM, "is_open", allow_duplicate=True),
    Output(ids.FAILED_PENDING, "data", allow_duplicate=True),
    Input(ids.FAILED_CONFIRM_BUTTON, "n_clicks"),
    State(ids.FAILED_PENDING, "data"),
    prevent_initial_call=True,
)
def confirm_retry(clicks, pending):
    """The action itself. Who may act is checked here, on the server, whatever the page showed."""
    if not clicks or not isinstance(pending, dict):
        return no_update, no_update, no_update, no_update, False, None
    settings = runtime.settings()
    engine = runtime.engine()
    user = auth.current_user(settings)
    try:
        # What the audit says was asked is built here from the ids or the filter, never taken
        # from the browser's state.
        if "filter" in pending:
            f = _filter(pending.get("filter") or {})
            failed_only = failed_payloads.retryable(f)
            ids_ = [] if auth.refusal(settings, user) or failed_only is None else queries.matching_ids(
                engine, failed_only, settings.retry_bulk_limit + 1)
            target = "filter " + failed_payloads.describe(f)
        else:
            sent = pending.get("ids") or []
            if not isinstance(sent, list) or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63
                                                     for i in sent):
                raise BadParameter("ids", "must be a list of positive whole numbers")
            ids_ = sent[: settings.retry_bulk_limit + 1]
            target = failed_payloads.describe_ids(ids_)
        outcome = retry_action.retry(settings, engine, user, ids_, target, "page")
    except (SQLAlchemyError, BadParameter, TypeError, ValueError) as exc:
        problem = error_line(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
        log.warning("retry action failed: %s", problem)
        problem = shown_error(exc) if isinstance(exc, SQLAlchemyError) else problem
        return f"Retry failed: {problem}", "danger", True, no_update, False, None
    if outcome.status in (401, 403, 413):
        return f"Not allowed ({outcome.status}): {outcome.message}", "danger", True, no_update, False, None
    colour = {202: "success", 200: "secondary"}.get(outcome.status, "danger")
    return outcome.message, colour, True, utc_now().isoformat(), False, None


@callback(
    Output(ids.FAILED_DETAILS, "is_open"),
    Output(ids.FAILED_DETAILS_BODY, "children"),
    Output(ids.FAILED_DETAILS_ID, "data"),
    Input(ids.FAILED_GRID, "cellClicked"),
    State(ids.FAILED_GRID, "rowData"),
    State(ids.VIEWER_TIMEZONE, "data"),
    State(ids.PAGE_LOCATION, "search"),
    prevent_initial_call=True,
)
def show_details(cell, rows, zone, search=None):
    if not cell or cell.get("colId") == "id":  # the run link opens the run's page instead
        return no_update, no_update, no_update
    row = next((r for r in rows or [] if str(r["id"]) == str(cell.get("rowId"))), None)
    if row is None:
        return no_update, no_update, no_update
    try:  # the grid's row carries excerpts: the operation again, its texts to the detail bound
        at = as_of(search, utc_now())
        engine, most = runtime.engine(), runtime.settings().retry_max_attempts
        if at is not None:
            row = failed_payloads.operation_json_at(engine, int(row["id"]), at, most, details=may_see_details()) or row
            tries = failed_payloads.attempts_at_json(engine, int(row["id"]), at)
        else:
            row = failed_payloads.operation_json(engine, int(row["id"]), most, details=may_see_details()) or row
            tries = failed_payloads.attempts_json(engine, int(row["id"]))
    except (SQLAlchemyError, BadParameter) as exc:
        tries, at = [], None
        log.warning("operation %s: %s", row["id"], error_line(exc))
    return True, _details(row, tries, zone, at), row["id"]


def _details(row: dict, tries: list[dict], zone: str | None, at=None) -> html.Div:
    facts = [("Run", dcc.Link(f"#{row['id']}", href=paths.with_at(paths.run(row['id']), at))),
             ("CRM", row["name"]), ("Sync type", row["sync_type"]),
             ("Run status", row["run_status"]), ("State", row["state"]),
             ("Attempts", f"{row['attempts']} of {row['max_attempts']}"),
             ("Failed at", display.local_clock(row["failed_at"], zone, seconds=True))]
    attempt_rows = [html.Tr([html.Td(t["attempt"]), html.Td(t["state"]), html.Td(t["requested_by"]),
                             html.Td(display.local_clock(t["queued_at"], zone, seconds=True)),
                             html.Td(dcc.Link(f"#{t['run_id']}", href=paths.run(t['run_id']))
                                     if t["run_id"] else "—"),
                             html.Td(cell_text(t["error"], t.get("message_length"), t.get("message_truncated", False))
                                     or "", className="text-danger text-break")]) for t in tries]
    return html.Div([
        html.Dl([item for label, value in facts for item in (html.Dt(label, className="col-4"),
                                                              html.Dd(value, className="col-8"))],
                className="row small mb-2", id="failed-details-facts"),
        html.H6("Error"),
        long_message(row["error"], row.get("message_length"), row.get("message_truncated", False), int(row["id"]),
                     element_id="failed-details-error", class_name="small text-wrap text-break text-danger"),
        *([html.H6("Last retry's error"),
           long_message(row["last_error"], row.get("last_error_length"), row.get("last_error_truncated", False),
                        int(row["id"]), "last_error", element_id="failed-details-last-error",
                        class_name="small text-wrap text-break text-danger")] if row.get("last_error") else []),
        html.H6("Payload"), html.Pre(row["payload"] if row.get("payload_truncated") else
                                     json.dumps(row.get("payload"), indent=2, sort_keys=True, default=str),
                                     className="small bg-body-tertiary p-2 text-wrap text-break"),
        html.Div(length_note(row["payload_length"]) if row.get("payload_truncated") else None,
                 className="small text-muted"),
        html.H6("Retry attempts"),
        dbc.Table([html.Thead(html.Tr([html.Th(h) for h in ("#", "State", "By", "Queued (UTC)", "Run", "Error")])),
                   html.Tbody(attempt_rows)], size="sm", className="small", id="failed-details-attempts")
        if tries else html.Div("Not retried yet.", className="text-muted small"),
    ])

