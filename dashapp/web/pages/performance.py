"""Performance (``/performance``): durations, volumes, success rate, frequency and throughput.

Every chart: ``dashapp.payloads.performance.shared_performance_frames`` (the shared cache) ->
``performance_frames`` -> ``queries.performance``; the same frames are served at
/api/performance-charts.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html
from sqlalchemy.exc import SQLAlchemyError

from dashapp import runtime
from dashapp.payloads import performance as payloads
from dashapp.payloads.day_cache import window_days
from dashapp.web import ids
from dashapp.web.components import figures
from dashapp.web.components.chart_box import chart
from dashapp.web.components.filter_options import day_window_label, filter_options
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from dashapp.web.components.refresh_bar import RefreshIds, chosen, page_header, refresh_callback
from queries import run_rollups

DAY_CHOICES = (7, 14, 30, 90)
REFRESH = RefreshIds(
    interval=ids.PERFORMANCE_INTERVAL, button=ids.PERFORMANCE_REFRESH_BUTTON, state=ids.PERFORMANCE_REFRESH_STATE,
    received=ids.PERFORMANCE_REFRESH_RECEIVED, text=ids.PERFORMANCE_REFRESH_TEXT,
    banner=ids.PERFORMANCE_ERROR_BANNER,
)
CHARTS = (ids.DURATION_CHART, ids.RECORDS_CHART, ids.SUCCESS_RATE_CHART, ids.FREQUENCY_CHART, ids.THROUGHPUT_CHART)


def _card(chart_id: str, height: int = 340) -> dbc.Card:
    return dbc.Card(dbc.CardBody(chart(dcc.Graph(id=chart_id, config={"displaylogo": False, "responsive": True},
                                                 style={"height": f"{height}px"}))), className="shadow-sm h-100")


def layout(**_query: str) -> html.Div:
    settings = runtime.settings()
    multi = {"multi": True, "clearable": True}
    return html.Div([
        ignored_chips(unknown_parameters(_query, ())),
        page_header("Performance", REFRESH, settings.refresh_seconds),
        dbc.Row([
            dbc.Col(dbc.Select(id=ids.PERFORMANCE_DAYS, value="7", size="sm",
                               options=[{"label": day_window_label(d), "value": str(d)} for d in DAY_CHOICES]),
                    xs=12, md=3),
            dbc.Col(dcc.Dropdown(id=ids.PERFORMANCE_CRM, options=filter_options("crm_source"), placeholder="All CRMs",
                                 **multi), xs=12, md=5),
            dbc.Col(dcc.Dropdown(id=ids.PERFORMANCE_SYNC_TYPE, options=filter_options("sync_type"),
                                 placeholder="All sync types", **multi), xs=12, md=4),
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
    [Input(ids.PERFORMANCE_DAYS, "value"), Input(ids.PERFORMANCE_CRM, "value"),
     Input(ids.PERFORMANCE_SYNC_TYPE, "value"), Input(ids.THEME_MODE, "data")],
    what="performance",
)
def refresh_performance(now, _previous, days, crms, sync_types, mode) -> tuple:
    days = chosen(days, DAY_CHOICES, DAY_CHOICES[0])
    start = window_days(days, now)[0]
    frames = payloads.shared_performance_frames(runtime.engine(), days, now, crms or (), sync_types or ())
    why = f"No finished runs from {start:%Y-%m-%d} to {now:%Y-%m-%d} (UTC days) for this selection"
    return tuple(figures.themed(figure, mode) for figure in (
        figures.day_axis(figures.duration_trend(frames["duration_by_crm"], why)),
        figures.records_by_crm(frames["records_by_crm"], why.replace("finished ", "")),
        figures.day_axis(figures.success_rate_trend(frames["success_rate"], why.replace("finished ", ""))),
        figures.day_axis(figures.runs_per_day(frames["runs_per_day"], why.replace("finished ", ""), now.date())),
        figures.throughput(frames["throughput"], why),
    ))
