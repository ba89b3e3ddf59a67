"""History (``/history``): every run, filtered, sorted and paged in SQL, with CSV export.

Rows: ``queries.history.history_page``; count: ``queries.history.history_count``; filter
choices: ``queries.choices.filter_values`` (read once per load, for the dropdowns and the values
a link's parameters are checked against); one run: ``queries.history.history_row``. The filter
(``dashapp.payloads.history.HistoryFilter``) lives in the URL, which ``/export/sync-history.csv``
takes as it is.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from dashapp import display, runtime
from dashapp.auth.disclosure import shown_error
from dashapp.errors import BadParameter, error_line
from dashapp.payloads import params, paths
from dashapp.payloads import run_records as payloads
from dashapp.payloads.history import PARAMETERS, GridBlock, HistoryFilter
from dashapp.web import ids, viewer
from dashapp.web.components import refresh_bar
from dashapp.web.components.filter_options import age_options, options_of
from dashapp.web.components.history_grid import history_grid
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from queries import outcomes
from queries.bad_parameter import FilterError
from queries.choices import filter_values
from queries.clock import utc_now
from queries.history import history_count, history_page, history_row

SCROLL_ROWS = 100_000  # the most rows the grid's scrollbar spans at once

log = logging.getLogger(__name__)
QUICK_FILTERS = [
    State(ids.HISTORY_RANGE, "value"), State(ids.HISTORY_START, "value"), State(ids.HISTORY_END, "value"),
    State(ids.HISTORY_CRM, "value"), State(ids.HISTORY_STATUS, "value"), State(ids.HISTORY_SYNC_TYPE, "value"),
    State(ids.HISTORY_SEARCH_TEXT, "value"),
]


def _as_lists(query: dict) -> dict[str, list[str]]:
    return {k: (v if isinstance(v, list) else [v]) for k, v in query.items() if isinstance(v, str | list)}


PAGE_PARAMETERS = (*PARAMETERS, "id")


def _filter_values() -> dict[str, list[str]] | None:
    """The distinct CRMs, statuses and sync types, read once for the page's dropdowns and checks."""
    try:
        return filter_values(runtime.engine())
    except SQLAlchemyError as exc:  # the grid says so on its first load; values are not checked meanwhile
        log.warning("history filter values failed: %s", error_line(exc))
        return None


def _options(column: str, found: dict[str, list[str]] | None, aliases: tuple[tuple[str, str], ...]) -> list[dict]:
    """A dropdown's options from the values read once; none when the database did not answer."""
    return [] if found is None else options_of(column, found[column], aliases)


def layout(**query: str | list[str]) -> html.Div:
    args = _as_lists(query)
    settings = runtime.settings()
    aliases = outcomes.aliases(runtime.engine())
    if "status" in args:  # the status dropdown offers classes: an alias (completed) picks its class (success)
        to_class = dict(aliases)
        args["status"] = [",".join(to_class.get(v.strip(), v) for v in raw.split(",")) for raw in args["status"]]
    found = _filter_values()
    known = None if found is None else params.known_of(found, aliases)
    selection, bad = HistoryFilter.from_args(args, utc_now(), known=known)
    ignored = unknown_parameters(args, PAGE_PARAMETERS) + bad
    chosen_range = selection.range
    filter_model, sort = selection.columns, selection.sort
    zone = viewer.zone()
    start = viewer.local_input(selection.start, zone) if chosen_range == "custom" else ""
    end = viewer.local_input(selection.end, zone) if chosen_range == "custom" else ""
    try:
        run_id = params.first(args, "id")
    except BadParameter as exc:
        ignored.append(exc)
        run_id = None
    if run_id and not run_id.isdigit():
        ignored.append(BadParameter("id", f"{run_id[:20]!r} is not a run id"))
    detail = _detail(int(run_id), zone, selection.as_of) if run_id and run_id.isdigit() else None
    ended_after = display.iso_utc(selection.ended_after) if selection.ended_after else None
    multi = {"multi": True, "clearable": True, "className": "history-dropdown"}
    return html.Div([
        dcc.Location(id=ids.HISTORY_NAVIGATE, refresh="callback-nav"),
        dcc.Store(id=ids.HISTORY_DETAIL_CLOSED),
        dcc.Store(id=ids.HISTORY_URL_SEARCH),
        dcc.Store(id=ids.HISTORY_ENDED_AFTER, data=ended_after),
        dcc.Store(id=ids.HISTORY_TIMES, data="impossible" if selection.outside else None),
        dcc.Store(id=ids.HISTORY_URL_PUSHED),
        dcc.Store(id=ids.HISTORY_PURGED),
        dcc.Store(id=ids.HISTORY_REFRESHED),
        dcc.Store(id=ids.HISTORY_ROWS_FAILED),
        dcc.Interval(id=ids.HISTORY_INTERVAL, interval=settings.refresh_seconds * 1000),
        html.H4("History", className="mb-3"),
        dbc.Row([
            dbc.Col(dbc.RadioItems(
                id=ids.HISTORY_RANGE, value=chosen_range, inline=True, className="btn-group",
                inputClassName="btn-check", labelClassName="btn btn-outline-secondary btn-sm",
                labelCheckedClassName="active",
                options=[*age_options(short=True), {"label": "Custom", "value": "custom"}],
            ), xs=12, lg="auto", className="mb-2"),
            dbc.Col(html.Div([
                dbc.Input(id=ids.HISTORY_START, type="datetime-local", value=start, size="sm",
                          debounce=True, placeholder="from"),
                dbc.Input(id=ids.HISTORY_END, type="datetime-local", value=end, size="sm",
                          debounce=True, placeholder="to"),
                html.Small(f"in {display.zone_name(zone)}", id=ids.HISTORY_RANGE_ZONE,
                           className="text-muted align-self-center text-nowrap"),
            ], id=ids.HISTORY_CUSTOM_RANGE, className=_custom_class(chosen_range)), xs=12, lg="auto",
                className="mb-2"),
        ], className="g-2 align-items-center"),
        dbc.Row([
            *(dbc.Col(dcc.Dropdown(id=control, options=_options(column, found, aliases), placeholder=placeholder,
                                   value=list(chosen), **multi), xs=12, md=3)
              for control, column, placeholder, chosen in (
                  (ids.HISTORY_CRM, "crm_source", "CRM", selection.crm_sources),
                  (ids.HISTORY_STATUS, "status", "Status", selection.statuses),
                  (ids.HISTORY_SYNC_TYPE, "sync_type", "Sync type", selection.sync_types))),
            dbc.Col(dbc.Input(id=ids.HISTORY_SEARCH_TEXT, type="search", placeholder="Error message contains…",
                              value=selection.q or "", debounce=True), xs=12, md=3),
        ], className="g-2 mb-2"),
        dbc.Row([
            dbc.Col(html.Span("", id=ids.HISTORY_COUNT, className="text-muted"), className="align-self-center"),
            dbc.Col(html.A(dbc.Button("Download CSV", size="sm", color="primary"), id=ids.HISTORY_DOWNLOAD,
                           href=paths.href("/export/sync-history.csv"), download=""), width="auto"),
        ], className="mb-2"),
        ignored_chips(ignored, ids.HISTORY_LINK_MESSAGE),
        _ended_after_note(ended_after, args),
        _impossible_note(selection.outside is not None, args),
        _as_of_note(selection.as_of),
        dbc.Alert(id=ids.HISTORY_MESSAGE, color="warning", is_open=False, className="small"),
        history_grid(settings.display_timezone, filter_model, sort),
        html.Div("Click a row to open its run's page. Shift-click headers to sort on several columns. "
                 f"The rows reload every {settings.refresh_seconds} s, keeping your place and selection.",
                 className="text-muted small mt-1"),
        dbc.Offcanvas(detail, id=ids.HISTORY_DETAIL, title=f"Run {run_id}" if detail else "Run",
                      is_open=detail is not None, placement="end", scrollable=True,
                      style={"width": "min(640px, 100vw)"}),
    ])


def _ended_after_note(ended_after: str | None, args: dict[str, list[str]]) -> html.Div | None:
    """A link's ``ended_after`` (an overview card's window) has no control of its own: say it, and
    offer the same view without it."""
    if not ended_after:
        return None
    rest = {k: v for k, v in args.items() if k not in ("ended_after", "id")}
    return html.Div([
        html.Span(["Only runs that ended at or after ",
                   html.Span(display.local_clock(ended_after, runtime.settings().display_timezone, seconds=True),
                             title=f"{ended_after} (UTC)"), " (the overview card's window). "]),
        dcc.Link("Show them all", href=paths.history(params.to_search(rest))),
    ], className="small text-muted mb-2", id="history-ended-after-note")


def _as_of_note(as_of: datetime | None) -> html.Div | None:
    """What the rows mean as of a past moment, and what could not be known then."""
    if as_of is None:
        return None
    return html.Div(
        f"As of {as_of:%Y-%m-%d %H:%M} UTC: only runs started by then; a run that ended later shows as running, "
        "without an end, its duration up to then. Record counts are the run's final ones (the table keeps no "
        "earlier values). Status filters apply to the status at that moment.",
        id=ids.HISTORY_AS_OF_NOTE, className="text-muted small mb-2")


def _impossible_note(shown: bool, args: dict[str, list[str]]) -> html.Div | None:
    """A link's ``times=impossible`` (from /health) has no control of its own: say it, and offer
    the same view without it."""
    if not shown:
        return None
    rest = {k: v for k, v in args.items() if k not in ("times", "id")}
    return html.Div([
        html.Span("Only runs at impossible times: a start before 2000-01-01 (UTC) or more than a day from now, "
                  "±infinity included. "),
        dcc.Link("Show them all", href=paths.history(params.to_search(rest))),
    ], className="small text-muted mb-2", id="history-times-note")


@callback(
    Output(ids.HISTORY_GRID, "getRowsResponse"),
    Output(ids.HISTORY_COUNT, "children"),
    Output(ids.HISTORY_MESSAGE, "children"),
    Output(ids.HISTORY_MESSAGE, "is_open"),
    Output(ids.HISTORY_MESSAGE, "color"),
    Output(ids.HISTORY_URL_SEARCH, "data"),
    Output(ids.HISTORY_DOWNLOAD, "href"),
    Output(ids.HISTORY_ROWS_FAILED, "data"),
    Input(ids.HISTORY_GRID, "getRowsRequest"),
    *QUICK_FILTERS,
    State(ids.VIEWER_TIMEZONE, "data"),
    State(ids.HISTORY_ENDED_AFTER, "data"),
    State(ids.HISTORY_TIMES, "data"),
    State(ids.PAGE_LOCATION, "search"),
    prevent_initial_call=True,
)
def load_rows(request, range_value, start, end, crms, statuses, sync_types, q, zone, ended_after=None, times=None,
              search=None):
    """One block of rows for the grid. A block that cannot be read is not answered here: its
    failure goes to ``HISTORY_ROWS_FAILED``, whose clientside callback (``keepHistoryRows``) answers
    the grid with the rows it already shows, so an outage or a bad filter never empties the grid, and
    its next refresh asks again."""
    if not request or not isinstance(request, dict):
        return (no_update,) * 8
    now = utc_now()
    try:
        zone = viewer.valid_zone(zone) or "UTC"
        grid = GridBlock.read(request)
        as_of = refresh_bar.as_of(search, now)
        selection = HistoryFilter.from_controls(
            now, grid, range_value=range_value, start=start, end=end, crm_sources=crms, statuses=statuses,
            sync_types=sync_types, q=q, zone=zone, ended_after=ended_after, times=times,
            as_of=display.iso_utc(as_of))
        search = selection.to_search()
        href = paths.href("/export/sync-history.csv" + search)
        response, count_text = _rows_answer(runtime.engine(), selection, grid, as_of or now)
    except (BadParameter, FilterError) as exc:
        return _not_answered(f"This filter cannot be applied: {exc}. Showing the last rows that could.",
                             "warning", now)
    except SQLAlchemyError as exc:
        log.warning("history query failed: %s", error_line(exc))
        return _not_answered(f"The database did not answer: {shown_error(exc)}. The rows shown are the "
                             "last ones read; they reload at the next refresh.", "danger", now)
    return response, count_text, None, False, no_update, search, href, no_update


def _rows_answer(engine, selection: HistoryFilter, grid: GridBlock, now: datetime) -> tuple[dict, object]:
    """The grid's answer for its block (rows ``grid.offset`` on, (``rowData``, ``rowCount``), and the count's text
    on the first block (no_update on the others). ``rowCount`` is always present, None while the
    total is not given to the grid: dash-ag-grid passes an absent one to AG Grid's ``setRowCount``
    as undefined after an answer of 0 rows, which leaves the grid empty under a correct count."""
    start_row, limit, values = grid.offset, grid.limit, selection.query_values()
    page = history_page(engine, start_row, limit, now, **values)
    rows = [payloads.run_record(row, "error_excerpt") for row in page.to_dict("records")]
    rows = [{**row, "row_id": str(row["id"])} for row in rows]  # the grid's row id: a string
    response: dict = {"rowData": rows, "rowCount": None}
    count_text: object = no_update
    if start_row == 0:
        count, exact = history_count(engine, **values)
        matching = display.plural(count, "matching run")
        count_text = matching if exact else f"about {matching}"
        if exact and count <= SCROLL_ROWS:  # past it the grid grows as it is scrolled, so a drag
            response["rowCount"] = count    # of the scrollbar never asks for a page a million rows deep
    if len(rows) < limit:
        response["rowCount"] = start_row + len(rows)
    return response, count_text


def _not_answered(message: str, color: str, now: datetime) -> tuple:
    """The callback's outputs when a block cannot be read: the message, and the failure for
    ``keepHistoryRows`` (stamped, so that the same failure twice is still two)."""
    return no_update, no_update, message, True, color, no_update, no_update, {"at": now.isoformat()}


clientside_callback(
    ClientsideFunction("syncMonitor", "purgeHistoryGrid"),
    Output(ids.HISTORY_PURGED, "data"),
    Input(ids.HISTORY_RANGE, "value"), Input(ids.HISTORY_START, "value"), Input(ids.HISTORY_END, "value"),
    Input(ids.HISTORY_CRM, "value"), Input(ids.HISTORY_STATUS, "value"), Input(ids.HISTORY_SYNC_TYPE, "value"),
    Input(ids.HISTORY_SEARCH_TEXT, "value"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("syncMonitor", "keepHistoryRows"),
    Output(ids.HISTORY_GRID, "getRowsResponse", allow_duplicate=True),
    Input(ids.HISTORY_ROWS_FAILED, "data"),
    State(ids.HISTORY_GRID, "getRowsRequest"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("syncMonitor", "refreshHistoryGrid"),
    Output(ids.HISTORY_REFRESHED, "data"),
    Input(ids.HISTORY_INTERVAL, "n_intervals"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("syncMonitor", "pushSearch"),
    Output(ids.HISTORY_URL_PUSHED, "data"),
    Input(ids.HISTORY_URL_SEARCH, "data"),
    State(ids.HISTORY_DETAIL, "is_open"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("syncMonitor", "zoneNote"),
    Output(ids.HISTORY_RANGE_ZONE, "children"),
    Input(ids.VIEWER_TIMEZONE, "data"),
)

clientside_callback(
    "function (value) { return value === 'custom' ? 'd-flex gap-2' : 'd-none'; }",
    Output(ids.HISTORY_CUSTOM_RANGE, "className"),
    Input(ids.HISTORY_RANGE, "value"),
    prevent_initial_call=True,
)


def _custom_class(chosen_range: str) -> str:
    return "d-flex gap-2" if chosen_range == "custom" else "d-none"


def _detail(run_id: int, zone: str | None, as_of: datetime | None = None) -> html.Div | None:
    try:
        row = history_row(runtime.engine(), run_id)
    except SQLAlchemyError as exc:
        return dbc.Alert(f"The database did not answer: {shown_error(exc)}", color="danger")
    if row is None:
        return dbc.Alert(f"No run with id {run_id}.", color="warning")
    plain = [(k, v) for k, v in row.items() if k not in ("configuration", "performance_metrics", "error_message")]
    items = []
    for key, value in plain:
        shown = display.local_clock(value, zone, seconds=True) or None if key.endswith(("_time", "_at")) else value
        items.append(html.Tr([html.Th(key, className="text-nowrap pe-3"),
                              html.Td("—" if shown is None else str(shown), className="text-break")]))
    sections = [dbc.Table(html.Tbody(items), size="sm", className="mb-3")]
    for key in ("configuration", "performance_metrics"):
        sections += [html.H6(key), html.Pre(json.dumps(row.get(key), indent=2, ensure_ascii=False, default=str),
                                            className="bg-body-tertiary p-2 small")]
    sections += [html.H6("error_message"),
                 html.Pre(row.get("error_message") or "—", className="bg-body-tertiary p-2 small text-wrap",
                          id="history-detail-error")]
    sections.insert(0, dcc.Link(f"Open run #{run_id}'s page: its API calls, breakers and previous runs",
                                href=paths.with_at(paths.run(run_id), as_of), id="history-detail-run-link",
                                className="d-block mb-2"))
    return html.Div(sections, id=ids.HISTORY_DETAIL_BODY)


@callback(
    Output(ids.HISTORY_NAVIGATE, "href"),
    Input(ids.HISTORY_GRID, "selectedRows"),
    State(ids.PAGE_LOCATION, "search"),
    prevent_initial_call=True,
)
def open_run(selected, search=None):
    """A click on a row opens the run's page (``/history?id=N`` still opens the quick-look panel)."""
    run_id = (selected or [{}])[0].get("id")
    if not isinstance(run_id, int) or isinstance(run_id, bool):
        return no_update
    return paths.with_at(paths.run(run_id), refresh_bar.as_of(search, utc_now()))


clientside_callback(
    ClientsideFunction("syncMonitor", "dropRunFromUrl"),
    Output(ids.HISTORY_DETAIL_CLOSED, "data"),
    Input(ids.HISTORY_DETAIL, "is_open"),
    prevent_initial_call=True,
)
