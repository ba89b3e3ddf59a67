"""One run (``/runs/<id>``): what it did and why it failed, the CRM calls it made, the breakers
that moved, the alerts about it, its failed operation (retry for operators), and how it compares
with the runs before it; for a running run, progress against its expected duration.

Everything: ``dashapp.payloads.runs.run_page`` -> ``queries.run_detail``; served as
``/api/runs/<id>``. Refreshes while the run is running.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from dashapp import display, runtime
from dashapp.auth import users as auth
from dashapp.auth.disclosure import may_see_details, shown_error
from dashapp.errors import BadParameter, error_line
from dashapp.payloads import paths
from dashapp.payloads import runs as run_payloads
from dashapp.retries import action as retry_action
from dashapp.web import ids
from dashapp.web.api.runs import parse_run_id
from dashapp.web.components import run_figures
from dashapp.web.components.chart_box import chart
from dashapp.web.components.figures import themed
from dashapp.web.components.long_text import cell_text, length_note, long_message
from dashapp.web.components.refresh_bar import as_of
from queries.clock import utc_now

log = logging.getLogger(__name__)
CLASS_COLOURS = {"success": "success", "failed": "danger", "running": "primary", "partial": "warning",
                 "unknown": "secondary"}
STATE_COLOURS = {"failed": "danger", "queued": "info", "running": "primary", "resolved": "success",
                 "abandoned": "dark"}


def _can_retry(settings) -> bool:
    return auth.refusal(settings, auth.current_user(settings)) is None and bool(settings.celery_broker_url)


def layout(run_id: str | None = None, **_query: str) -> html.Div:
    settings = runtime.settings()
    parsed = parse_run_id(run_id or "")
    body = html.Div("loading…", className="text-muted") if parsed is not None else html.Div([
        html.H4("Run"), dbc.Alert(f"{(run_id or '')[:40]!r} is not a run id: a run's page is /runs/<number>, "
                                  "e.g. /runs/42.", color="warning", id="run-bad-id")])
    return html.Div([
        # the run's id; as of a moment (the URL's at), {"id", "at"}: then nothing acts on it (retry_run)
        dcc.Store(id=ids.RUN_ID, data=_run_store(parsed, _query.get("at"))),
        dcc.Store(id=ids.RUN_ZONE),
        dcc.Store(id=ids.RUN_THEME),
        dcc.Interval(id=ids.RUN_INTERVAL, interval=settings.refresh_seconds * 1000, disabled=True),
        html.Div(id=ids.RUN_BODY, children=body),
        html.Div(dcc.ConfirmDialogProvider(
            dbc.Button("Retry this run", color="primary", size="sm"), id=ids.RUN_RETRY,
            message=f"Retry run {parsed} now? Its retry is sent to Celery at once."),
            id=ids.RUN_RETRY_AREA, className="d-none"),
        dbc.Alert(id=ids.RUN_RETRY_RESULT, is_open=False, dismissable=True, className="py-2 small mt-2"),
    ])


def _run_store(parsed: int | None, at: object) -> int | dict | None:
    """The page's RUN_ID store: the id, or with the URL's ``at`` (checked when the page refreshes) both."""
    if parsed is None or not isinstance(at, str) or not at.strip():
        return parsed
    return {"id": parsed, "at": at[:100]}


def _when(value: str | None, zone: str | None) -> html.Span:
    """A time in the viewer's zone, UTC on hover."""
    if not value:
        return html.Span("—", className="text-muted")
    return html.Span(display.local_clock(value, zone, seconds=True), title=f"{value} (UTC)", className="local-time")


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    whole = round(value)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes}m" if hours else (f"{minutes}m {seconds}s" if minutes else f"{value:.1f}s")


def _facts(run: dict, zone: str | None) -> dbc.Table:
    rows = [
        ("Status", html.Span([dbc.Badge(run["status"] or "—", color=CLASS_COLOURS[run["status_class"]],
                                        id=ids.RUN_STATUS),
                              html.Span(f" class: {run['status_class']}", className="text-muted small")])),
        ("CRM · sync type", f"{run['name']} · {run['sync_type']}"),
        ("Endpoint", html.Span(cell_text(run["endpoint"], run.get("endpoint_length"),
                                         run.get("endpoint_truncated", False)) or "—", className="text-break")),
        ("Started", _when(run["start_time"], zone)),
        ("Ended", _when(run["end_time"], zone)),
        ("Duration", _seconds(run["duration_seconds"]) + (" so far" if run["status_class"] == "running" else "")),
        ("Records", f"{run['records_processed']:,} processed · {run['records_created']:,} created · "
                    f"{run['records_updated']:,} updated · {run['records_failed']:,} failed"),
        ("Records/s", "—" if run["records_per_second"] is None else f"{run['records_per_second']:,.2f}"),
        ("Usually takes", "—" if run["expected_seconds"] is None else
         f"{_seconds(run['expected_seconds'])} (median), {_seconds(run['expected_p95_seconds'])} (p95) "
         f"of the last {run['expected_from_runs']} successful runs"),
        ("Recorded", _when(run["created_at"], zone)),
    ]
    return dbc.Table(html.Tbody([html.Tr([html.Th(k, className="text-nowrap pe-3 fw-normal text-muted"), html.Td(v)])
                                 for k, v in rows]), size="sm", className="small mb-0", id="run-facts")


def _progress(run: dict, zone: str | None) -> html.Div | None:
    if run["status_class"] != "running":
        return None
    if run["expected_seconds"] is None:
        return dbc.Alert("Running; no successful run of this CRM and type yet to say how long it usually takes.",
                         color="info", className="small py-2")
    percent = run["progress_percent"] or 0.0
    overdue = run["overdue"]
    return html.Div([
        dbc.Progress(value=min(percent, 100.0), label=f"{percent:.0f}%", striped=True, animated=not overdue,
                     color="danger" if overdue else "primary", style={"height": "1.2rem"}),
        html.Div([
            dbc.Badge("overdue", color="danger", className="me-2", id="run-overdue") if overdue else None,
            html.Span(f"{_seconds(run['duration_seconds'])} of about {_seconds(run['expected_seconds'])}; ETA "),
            _when(run["eta"], zone),
            html.Span(f" · {run['records_processed']:,} records so far"
                      + ("" if run["records_per_second"] is None else f", {run['records_per_second']:,.1f}/s")),
            html.Span(f" · past the p95 of {_seconds(run['expected_p95_seconds'])}" if overdue else ""),
        ], className="small mt-1"),
    ], id=ids.RUN_PROGRESS, className="mb-3")


def _error(run: dict) -> list:
    if not run["error_message"]:
        return []
    return [
        html.Div([html.H6("Error", className="mb-0 me-2"),
                  dcc.Clipboard(target_id=ids.RUN_ERROR, title="Copy the error", id=ids.RUN_ERROR_COPY,
                                style={"cursor": "pointer"})], className="d-flex align-items-center mt-3"),
        long_message(run["error_message"], run.get("message_length"), run.get("message_truncated", False), run["id"],
                     element_id=ids.RUN_ERROR, class_name="bg-light p-2 small text-wrap text-danger mb-1",
                     style={"whiteSpace": "pre-wrap", "wordBreak": "break-word"}),
        html.Div(["Error class: ", dcc.Link(run["error_class"], href=run["error_class_link"], id="run-error-class")],
                 className="small") if run.get("error_class_link") else None,
    ]


def _summary(page: dict) -> html.Div:
    s = page["api_calls_summary"]
    badge = [("calls", s["calls"], "secondary"), ("ok", s["by_class"]["ok"], "success"),
             ("4xx", s["by_class"]["4xx"], "warning"), ("429", s["throttled"], "warning"),
             ("5xx", s["by_class"]["5xx"], "danger"), ("no response", s["by_class"]["no_response"], "dark")]
    parts = [dbc.Badge(f"{label} {n:,}", color=colour, className="me-1", id=f"run-calls-{label.replace(' ', '-')}")
             for label, n, colour in badge]
    extra = []
    if s["p50_ms"] is not None:
        extra.append(f"p50 {s['p50_ms']:,.0f} ms · p95 {s['p95_ms']:,.0f} ms")
    if s["lowest_remaining"] is not None:
        extra.append(f"lowest remaining quota {s['lowest_remaining']:,}")
    return html.Div([*parts, html.Span(" · ".join(extra), className="small text-muted ms-2")], className="mb-2")


def _calls_table(page: dict, zone: str | None) -> html.Div:
    calls = page["api_calls"]
    if not calls:
        return html.Div("No API calls recorded for this run.", className="text-muted small")
    numeric = ("ms", "Remaining")  # headed on the side their right-aligned numbers are
    head = html.Thead(html.Tr([html.Th(h, className="text-end" if h in numeric else None)
                               for h in ("Called", "Method", "Endpoint", "Status", "ms", "Remaining", "Error")]))
    body = html.Tbody([html.Tr([
        html.Td(_when(c["called_at"], zone), className="text-nowrap"), html.Td(c["method"]),
        html.Td(c["endpoint"], className="text-break"),
        html.Td(dbc.Badge("—" if c["status"] is None else c["status"],
                          color="success" if c["status"] is not None and c["status"] < 400 else
                          ("warning" if c["status"] is not None and c["status"] < 500 else "danger"))),
        html.Td(f"{c['duration_ms']:,.0f}", className="text-end"),
        html.Td("—" if c["rate_limit_remaining"] is None else f"{c['rate_limit_remaining']:,}", className="text-end"),
        html.Td(cell_text(c["error"], c.get("message_length"), c.get("message_truncated", False)) or "",
                className="text-danger text-break"),
    ]) for c in calls])
    more = (html.Div(f"The first {len(calls):,} of {page['api_calls_summary']['calls']:,} calls.",
                     className="small text-muted") if page["api_calls_truncated"] else None)
    return html.Div([dbc.Table([head, body], size="sm", hover=True, className="small mb-1", id=ids.RUN_CALLS_TABLE),
                     more], style={"maxHeight": "420px", "overflowY": "auto"})


def _breakers(events: list[dict], zone: str | None) -> html.Div:
    if not events:
        return html.Div("No breaker of this CRM changed state during the run.", className="text-muted small")
    return dbc.Table(html.Tbody([html.Tr([
        html.Td(_when(e["occurred_at"], zone), className="text-nowrap"), html.Td(e["breaker"]),
        html.Td(f"{e['from_state']} → {e['to_state']}"), html.Td(e["reason"] or "", className="text-break"),
        html.Td("this run" if e["correlated"] else "same CRM, same time", className="text-muted"),
    ]) for e in events]), size="sm", className="small", id="run-breaker-events")


def _alerts(alerts: list[dict], zone: str | None) -> html.Div:
    if not alerts:
        return html.Div("No alert named this run or its CRM while it ran.", className="text-muted small")
    return dbc.ListGroup([dbc.ListGroupItem([
        dbc.Badge(a["severity"], color="danger" if a["severity"] == "critical" else "warning", className="me-2"),
        html.Strong(a["rule"]), html.Span(f" · {a['subject']} · {a['state']} · fired "), _when(a["fired_at"], zone),
        html.Div(a["summary"], className="small text-muted"),
    ]) for a in alerts], flush=True, id="run-alerts")


def _at(page: dict) -> datetime | None:
    """The moment the page shows (``as_of`` of its JSON), None when live."""
    return display.from_iso(page.get("as_of")) if page.get("as_of") else None


def _changed(page: dict, zone: str | None) -> html.Ul:
    c = page["what_changed"]
    items = []
    so_far = " so far" if page["run"]["status_class"] == "running" else ""
    if c["duration_ratio"] is not None:
        items.append(f"Duration {_seconds(c['duration_seconds'])}{so_far}: {c['duration_ratio']:.2f}× the median "
                     f"({_seconds(c['median_duration_seconds'])}) of the runs before it.")
    if c["records_ratio"] is not None:
        items.append(f"Records {c['records_processed']:,}{so_far}: {c['records_ratio']:.2f}× their median "
                     f"({c['median_records']:,.0f}).")
    last = c["last_success"]
    if c["error_class"]:
        if last is None:
            items.append(f"Error class: {display.sentence(c['error_class'])} No successful run before it.")
        else:
            items.append(html.Span([f"Error class: {display.sentence(c['error_class'])} Last success: ",
                                    dcc.Link(f"#{last['id']}", href=paths.with_at(paths.run(last['id']), _at(page))),
                                    " (",
                                    _when(last["start_time"], zone),
                                    f"); {display.plural(c['runs_since_last_success'], 'run')} between it and this "
                                    "one."]))
    return html.Ul([html.Li(i) for i in items] or [html.Li("No earlier run to compare with.")],
                   className="small mb-0", id="run-what-changed")


def _operation(page: dict, zone: str | None) -> html.Div | None:
    op = page["failed_operation"]
    if op is None:
        return None
    return html.Div([
        html.Span("Failed operation: "), dbc.Badge(op["state"], color=STATE_COLOURS.get(op["state"], "secondary"),
                                                   id="run-operation-state"),
        html.Span(f" · {op['attempts']} of {op['max_attempts']} retries"),
        html.Span([" · resolved by ", dcc.Link(f"#{op['resolved_by_run']}",
                                               href=paths.with_at(paths.run(op['resolved_by_run']), _at(page)))])
        if op["resolved_by_run"] else None,
        html.Span([" · ", dcc.Link("all failed operations", href=paths.with_at(paths.href("/failed"), _at(page)))]),
        html.Div([html.Span("Last retry's error:"),
                  long_message(op["last_error"], op.get("last_error_length"), op.get("last_error_truncated", False),
                               page["run"]["id"], "last_error", element_id="run-last-error",
                               class_name="small text-wrap text-break text-danger mb-0")])
        if op["last_error"] else None,
    ], className="small mb-2")


def _json_block(title: str, value: object, length: int | None = None, truncated: bool = False) -> list:
    """A JSON column, indented; one too long to send whole arrives as its first characters."""
    shown = value if truncated else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return [html.H6(title, className="mt-3"),
            html.Pre(shown, className="bg-light p-2 small mb-0", style={"whiteSpace": "pre-wrap"}),
            html.Div(f"{length_note(length)}: the first {len(value):,} shown" if truncated and length else None,
                     className="small text-muted")]


def _card(title: str, *children) -> dbc.Card:
    return dbc.Card(dbc.CardBody([html.H6(title), *children]), className="shadow-sm mb-3")


def render(page: dict, zone: str | None, mode: str | None = None) -> list:
    run = page["run"]
    matched = None if page["api_calls_correlated"] or not page["api_calls"] else dbc.Alert(
        "This run was recorded before calls carried their run's id: these are the CRM's calls within the run's "
        "time window, matched by time.", color="info", className="small py-2", id=ids.RUN_CALLS_NOTE)
    window = page.get("calls_window") or {}
    bounded = None if not window.get("bounded") else html.Div(
        f"Breakers, alerts and calls without a run id: {window['reason']}.", className="small text-muted mb-2",
        id=ids.RUN_CALLS_WINDOW)
    at = _at(page)
    return [
        dbc.Row([
            dbc.Col(html.H4(f"Run #{run['id']} · {run['name']} · {run['sync_type']}", id=ids.RUN_TITLE,
                            className="mb-0"), xs=12, md=8),
            dbc.Col(html.Div([dcc.Link("its history", href=run["history_link"], className="small me-3"),
                              html.A("JSON", href=paths.with_at(paths.href(f"/api/runs/{run['id']}"), at),
                                     className="small")],
                             className="text-md-end"), xs=12, md=4),
        ], className="align-items-center mb-3"),
        dbc.Alert([html.Strong(f"As of {at:%Y-%m-%d %H:%M} UTC: "), page.get("as_of_note", "")],
                  id=ids.RUN_AS_OF_NOTE, color="secondary", className="py-2 small") if at else None,
        _progress(run, zone),
        dbc.Row([
            dbc.Col(_card("The run", _facts(run, zone), *_error(run), _operation(page, zone)), xs=12, lg=6),
            dbc.Col(_card("Compared with its previous runs",
                          chart(dcc.Graph(id=ids.RUN_PREVIOUS_CHART,
                                          figure=themed(run_figures.previous_runs(page), mode),
                                          config={"displaylogo": False})),
                          _changed(page, zone)), xs=12, lg=6),
        ], className="g-3"),
        _card("CRM API calls", page.get("note") and dbc.Alert(page["note"], color="warning", className="small"),
              matched, bounded, _summary(page),
              chart(dcc.Graph(id=ids.RUN_CALLS_CHART, figure=themed(run_figures.calls_timeline(page), mode),
                              config={"displaylogo": False})),
              _calls_table(page, zone)),
        dbc.Row([
            dbc.Col(_card("Circuit breakers during the run", _breakers(page["breaker_events"], zone)), xs=12, lg=6),
            dbc.Col(_card("Alerts while it ran", _alerts(page["alerts"], zone)), xs=12, lg=6),
        ], className="g-3"),
        _card("Configuration and metrics",
              *_json_block("configuration", run["configuration"], run.get("configuration_length"),
                           run.get("configuration_truncated", False)),
              *_json_block("performance_metrics", run["performance_metrics"], run.get("performance_metrics_length"),
                           run.get("performance_metrics_truncated", False))),
    ]


@callback(
    Output(ids.RUN_BODY, "children"),
    Output(ids.RUN_INTERVAL, "disabled"),
    Output(ids.RUN_RETRY_AREA, "className"),
    Input(ids.RUN_INTERVAL, "n_intervals"),
    Input(ids.RUN_ZONE, "data"),
    Input(ids.RUN_RETRY_RESULT, "children"),
    Input(ids.RUN_THEME, "data"),
    State(ids.RUN_ID, "data"),
    prevent_initial_call=True,
)
def refresh_run(_ticks, zone, _retried, mode, run_id):
    """The run as of the page's ``at`` when it has one (no refresh then: the past does not change,
    and no retry: retries act on the present)."""
    search = ""
    if isinstance(run_id, dict):
        search = "?at=" + quote(str(run_id.get("at") or ""))
        run_id = run_id.get("id")
    if not isinstance(run_id, int) or isinstance(run_id, bool):
        return no_update, True, "d-none"
    settings = runtime.settings()
    # after this viewer's retry, its operation's new state at once, not the shared (cached) page
    read = run_payloads.run_page.__wrapped__ if ctx.triggered_id == ids.RUN_RETRY_RESULT else run_payloads.run_page
    try:
        at = as_of(search, utc_now())
        page = read(runtime.engine(), run_id, at or utc_now(), settings.retry_max_attempts, details=may_see_details(),
                    as_of=at is not None)
    except BadParameter as exc:
        return dbc.Alert(f"This link's moment cannot be shown: {exc}.", color="warning", id="run-bad-at"), True, \
            "d-none"
    except SQLAlchemyError as exc:
        log.warning("run %s: %s", run_id, error_line(exc))
        return dbc.Alert(f"The database did not answer: {shown_error(exc)}", color="danger"), False, "d-none"
    if page is None and at is not None:
        return dbc.Alert(f"Run {run_id} had not started by {at:%Y-%m-%d %H:%M:%S} UTC.", color="warning",
                         id="run-missing"), True, "d-none"
    if page is None:
        return dbc.Alert(f"No run with id {run_id}.", color="warning", id="run-missing"), True, "d-none"
    operation = page["failed_operation"]
    retryable = operation is not None and operation["state"] == "failed" and _can_retry(settings) and at is None
    running = page["run"]["status_class"] == "running" and at is None
    return render(page, zone, mode), not running, "mb-2" if retryable else "d-none"



@callback(
    Output(ids.RUN_RETRY_RESULT, "children"),
    Output(ids.RUN_RETRY_RESULT, "color"),
    Output(ids.RUN_RETRY_RESULT, "is_open"),
    Input(ids.RUN_RETRY, "submit_n_clicks"),
    State(ids.RUN_ID, "data"),
    prevent_initial_call=True,
)
def retry_run(clicks, run_id):
    """The same action as /failed's: role check, bulk limit and audit in ``retry_action.retry``."""
    if not clicks or not isinstance(run_id, int):
        return no_update, no_update, no_update
    settings = runtime.settings()
    try:
        outcome = retry_action.retry(settings, runtime.engine(), auth.current_user(settings), [run_id],
                                     f"operation {run_id}", "page")
    except SQLAlchemyError as exc:
        log.warning("retry of run %s failed: %s", run_id, error_line(exc))
        return f"Retry failed: {shown_error(exc)}", "danger", True
    if outcome.status in (401, 403, 413):
        return f"Not allowed ({outcome.status}): {outcome.message}", "danger", True
    return outcome.message, {202: "success", 200: "secondary"}.get(outcome.status, "danger"), True


# The viewer's zone (DISPLAY_TIMEZONE, else the browser's), from page-local inputs only: a callback
# fed by the app-wide zone store would fire on every other page, where this page's outputs are not.
clientside_callback(
    ClientsideFunction("syncMonitor", "pageZone"),
    Output(ids.RUN_ZONE, "data"),
    Input(ids.RUN_ID, "data"),
    State(ids.APP_CONFIG, "data"),
    State(ids.CLOCK_CHOICE, "data"),
)

# The theme in force, copied into the page's own store: the run's charts are redrawn in it at once
# when the viewer switches (they are drawn by ``refresh_run``, so no callback can name them directly).
clientside_callback(
    "function (mode) { return mode || 'light'; }",
    Output(ids.RUN_THEME, "data"),
    Input(ids.THEME_MODE, "data"),
)
