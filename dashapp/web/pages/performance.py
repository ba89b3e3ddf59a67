"""Performance (``/performance``): durations, volumes, success rate, frequency and throughput.

Every chart: ``dashapp.payloads.performance.shared_performance_frames`` (the shared cache) ->
``performance_frames`` -> ``queries.performance``; the same frames are served at
/api/performance-charts.

The selections live in the URL, as on the history: ``range`` (default 7d) or ``start``/``end``,
``crm_source`` and ``sync_type`` (``HistoryFilter.from_args`` reads them, as on the history; a bad
one is shown as a chip and its default used); changing a control puts them back in the URL without a
reload.
"""

from __future__ import annotations

import logging
from datetime import datetime

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html
from sqlalchemy.exc import SQLAlchemyError

from dashapp import display, runtime
from dashapp.errors import BadParameter, error_line
from dashapp.payloads import params
from dashapp.payloads import performance as payloads
from dashapp.payloads.history import HistoryFilter
from dashapp.payloads.params import CUSTOM, RANGES, Window
from dashapp.web import ids
from dashapp.web.components import as_of_note, figures
from dashapp.web.components.chart_box import chart
from dashapp.web.components.filter_options import chosen_window, filter_options, range_control
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from dashapp.web.components.refresh_bar import RefreshIds, as_of, page_header, refresh_callback
from queries import run_rollups
from queries.clock import utc_now

log = logging.getLogger(__name__)
DEFAULT_RANGE = "7d"
PAGE_PARAMETERS = (*params.WINDOW_PARAMETERS, "crm_source", "sync_type", params.AT)
AS_OF_TEXT = ("runs started in the window ending then, as they stood then: a run that ended later counts as running, "
              "in no rate or duration; the last day's bars are that day up to then. Record counts are the runs' "
              "final ones, and a run longer than 7 days across the moment counts with its final status.")
REFRESH = RefreshIds(
    interval=ids.PERFORMANCE_INTERVAL, button=ids.PERFORMANCE_REFRESH_BUTTON, state=ids.PERFORMANCE_REFRESH_STATE,
    received=ids.PERFORMANCE_REFRESH_RECEIVED, text=ids.PERFORMANCE_REFRESH_TEXT,
    banner=ids.PERFORMANCE_ERROR_BANNER,
)
CHARTS = (ids.DURATION_CHART, ids.RECORDS_CHART, ids.SUCCESS_RATE_CHART, ids.FREQUENCY_CHART, ids.THROUGHPUT_CHART)


def _card(chart_id: str, height: int = 340) -> dbc.Card:
    return dbc.Card(dbc.CardBody(chart(dcc.Graph(id=chart_id, config={"displaylogo": False, "responsive": True},
                                                 style={"height": f"{height}px"}))), className="shadow-sm h-100")


def _known_values() -> dict[str, set[str]] | None:
    try:
        return params.known_values(runtime.engine())
    except SQLAlchemyError as exc:  # the charts say so on their first refresh; values are not checked meanwhile
        log.warning("performance filter values failed: %s", error_line(exc))
        return None


def selections(query: dict, now: datetime) -> tuple[Window, dict[str, tuple[str, ...]], list[BadParameter]]:
    """The window, CRMs and sync types a page URL asks for, and its bad parameters (each then at
    its default: the past 7 days, every CRM, every sync type)."""
    args = {k: (v if isinstance(v, list) else [v]) for k, v in query.items() if isinstance(v, str | list)}
    ignored = unknown_parameters(args, PAGE_PARAMETERS)
    selection, bad = HistoryFilter.from_args({k: v for k, v in args.items() if k in PAGE_PARAMETERS}, now,
                                             known=_known_values())
    window = Window(selection.range, selection.start, selection.end)
    chosen = {"crm_source": selection.crm_sources, "sync_type": selection.sync_types}
    return window, chosen, ignored + bad


def layout(**query: str | list[str]) -> html.Div:
    settings = runtime.settings()
    window, chosen, ignored = selections(query, utc_now())
    multi = {"multi": True, "clearable": True}
    return html.Div([
        ignored_chips(ignored),
        dcc.Store(id=ids.PERFORMANCE_CUSTOM, data=_custom_args(window)),
        dcc.Store(id=ids.PERFORMANCE_URL_SEARCH),
        dcc.Store(id=ids.PERFORMANCE_URL_PUSHED),
        page_header("Performance", REFRESH, settings.refresh_seconds),
        as_of_note.note(ids.PERFORMANCE_AS_OF_NOTE, as_of_note.at_of_query(query), AS_OF_TEXT),
        dbc.Row(dbc.Col(range_control(ids.PERFORMANCE_RANGE, window.range, custom=window.range == CUSTOM), xs=12),
                className="mb-2"),
        dbc.Row([
            dbc.Col(dcc.Dropdown(id=ids.PERFORMANCE_CRM, options=filter_options("crm_source"), placeholder="All CRMs",
                                 value=list(chosen["crm_source"]), **multi), xs=12, md=6),
            dbc.Col(dcc.Dropdown(id=ids.PERFORMANCE_SYNC_TYPE, options=filter_options("sync_type"),
                                 placeholder="All sync types", value=list(chosen["sync_type"]), **multi), xs=12, md=6),
        ], className="g-2 mb-2"),
        html.Div(source_note(), id=ids.PERFORMANCE_SOURCE_NOTE, className="small text-muted mb-3"),
        dbc.Row([dbc.Col(_card(ids.DURATION_CHART, 380), xs=12)], className="g-3 mb-3"),
        dbc.Row([
            dbc.Col(_card(ids.SUCCESS_RATE_CHART), xs=12, lg=6),
            dbc.Col(_card(ids.RECORDS_CHART), xs=12, lg=6),
        ], className="g-3 mb-3"),
        dbc.Row([
            dbc.Col(_card(ids.FREQUENCY_CHART), xs=12, lg=6),
            dbc.Col(_card(ids.THROUGHPUT_CHART, 420), xs=12, lg=6),
        ], className="g-3 mb-3"),
    ])


UPGRADE_NOTE = ["Computed from the raw runs table (closed days are kept in memory for an hour). "
                "An administrator's ", html.Code("python app.py db upgrade"), " builds rollups of the runs that "
                "make any window, up to 90 days and any filter, answer in milliseconds."]


def source_note() -> str | list:
    """Where the numbers come from: the run rollups (up to which hour), or the raw table and
    how to make long windows fast."""
    try:
        covered = run_rollups.ready(runtime.engine())
    except SQLAlchemyError:
        return ""
    if covered is None:
        return UPGRADE_NOTE
    return (f"Whole hours up to {covered:%Y-%m-%d %H:00} UTC from the run rollups, "
            "the runs since then from the raw table. Percentiles within 5%.")


@refresh_callback(
    REFRESH, [Output(chart, "figure") for chart in CHARTS],
    [Input(ids.PERFORMANCE_RANGE, "value"), Input(ids.PERFORMANCE_CRM, "value"),
     Input(ids.PERFORMANCE_SYNC_TYPE, "value"), Input(ids.THEME_MODE, "data"), Input(ids.PERFORMANCE_CUSTOM, "data")],
    what="performance",
)
def refresh_performance(now, _previous, chosen_range, crms, sync_types, mode, custom=None) -> tuple:
    """``now``: the moment shown (a page as of ``at``: its windows end there)."""
    frames, covered = payloads.shared_performance_frames(runtime.engine(), _window(chosen_range, custom, now), now,
                                                         crms or (), sync_types or (),
                                                         as_of=as_of_note.viewed_at() is not None)
    why = (f"No finished runs from {covered['start'][:16].replace('T', ' ')} to "
           f"{covered['end'][:16].replace('T', ' ')} UTC for this selection")
    return tuple(figures.themed(figure, mode) for figure in (
        figures.day_axis(figures.duration_trend(frames["duration_by_crm"], why)),
        figures.records_by_crm(frames["records_by_crm"], why.replace("finished ", "")),
        figures.day_axis(figures.success_rate_trend(frames["success_rate"], why.replace("finished ", ""))),
        figures.day_axis(figures.runs_per_day(frames["runs_per_day"], why.replace("finished ", ""), now.date(),
                                              *(display.from_iso(covered[edge]) for edge in ("start", "end")))),
        figures.throughput(frames["throughput"], why),
    ))


def _custom_args(window: Window) -> dict[str, list[str]] | None:
    """A custom window as query-string arguments, in ISO UTC ("...Z"); None for a named range."""
    if window.range != CUSTOM:
        return None
    return {name: [display.iso_utc(moment)] for name, moment in (("start", window.start), ("end", window.end))
            if moment is not None}


def _window(chosen_range: object, custom: dict | None, now: datetime) -> Window:
    """The range control's window; "custom" is the start and end the link gave (``PERFORMANCE_CUSTOM``)."""
    if chosen_range == CUSTOM and custom:
        try:
            return params.window(custom, now, DEFAULT_RANGE)
        except BadParameter:  # the store holds what the page itself checked; a forged one is the default
            pass
    return chosen_window(chosen_range, now, DEFAULT_RANGE)


def url_state(chosen_range: object, crms: list | None, sync_types: list | None, custom: dict | None,
              at: str | None = None) -> dict:
    """The controls as query-string arguments (``params.to_search``): the default range left out;
    ``at``, the moment the page shows, kept."""
    state: dict[str, object] = {}
    if chosen_range == CUSTOM and custom:
        state.update({name: values[0] for name, values in custom.items() if name in ("start", "end") and values})
    elif chosen_range in RANGES and chosen_range != DEFAULT_RANGE:
        state["range"] = chosen_range
    return {**state, "crm_source": crms or [], "sync_type": sync_types or [], params.AT: at}


@callback(
    Output(ids.PERFORMANCE_URL_SEARCH, "data"),
    Input(ids.PERFORMANCE_RANGE, "value"), Input(ids.PERFORMANCE_CRM, "value"),
    Input(ids.PERFORMANCE_SYNC_TYPE, "value"), State(ids.PERFORMANCE_CUSTOM, "data"),
    State(ids.PAGE_LOCATION, "search"),
    prevent_initial_call=True,
)
def url_search(chosen_range, crms, sync_types, custom, search=None) -> str:
    try:
        at = display.iso_utc(as_of(search, utc_now()))
    except BadParameter:  # the refresh names it; the URL keeps the controls
        at = None
    return params.to_search(url_state(chosen_range, crms, sync_types, custom, at))


clientside_callback(  # the URL follows the controls, without a reload (as on the history)
    ClientsideFunction("syncMonitor", "pushSearch"),
    Output(ids.PERFORMANCE_URL_PUSHED, "data"),
    Input(ids.PERFORMANCE_URL_SEARCH, "data"),
    prevent_initial_call=True,
)
