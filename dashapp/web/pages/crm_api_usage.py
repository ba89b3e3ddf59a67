"""API usage (``/api-usage``): CRM API calls, rate limits and circuit breakers.

Everything: ``dashapp.payloads.crm_api_usage`` -> ``queries.crm_api_usage``; served as /api/api-stats,
/api/rate-limits and /api/circuit-breakers. The reset countdowns tick in the browser.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, clientside_callback, dcc, html, no_update

from dashapp import display, runtime
from dashapp.payloads import crm_api_usage
from dashapp.web import ids
from dashapp.web.components import as_of_note, figures, panel_note
from dashapp.web.components.chart_box import chart
from dashapp.web.components.filter_options import chosen_window, range_control, range_words
from dashapp.web.components.grid_fit import fit_to_phones, register_row_detail, row_detail, size_by_content
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from dashapp.web.components.refresh_bar import (
    Refresh,
    RefreshIds,
    failed,
    page_header,
    refresh_callback,
    refreshed,
)
from queries.clock import utc_now

DEFAULT_RANGE = "24h"
LEVEL_COLOURS = {"ok": "success", "warning": "warning", "critical": "danger", "unknown": "secondary"}
STATE_COLOURS = {"CLOSED": "success", "HALF_OPEN": "warning", "OPEN": "danger"}
REFRESH = RefreshIds(
    interval=ids.API_USAGE_INTERVAL, button=ids.API_USAGE_REFRESH_BUTTON, state=ids.API_USAGE_REFRESH_STATE,
    received=ids.API_USAGE_REFRESH_RECEIVED, text=ids.API_USAGE_REFRESH_TEXT, banner=ids.API_USAGE_ERROR_BANNER,
)
LIMITS, BREAKERS, CALLS = "Rate limits", "Circuit breakers", "API calls"  # the panels, as notes name them
# numbers filter from the header's menu: a floating filter box would set their width, not the numbers
_MS = {"type": "rightAligned", "filter": "agNumberColumnFilter", "floatingFilter": False}
_NUMBER = {**_MS, "valueFormatter": {"function": "formatCount(params.value)"}}
_LATENCY = {**_MS, "valueFormatter": {"function": "formatMs(params.value)"}}


PHONE_HIDES = ("successes", "client_errors", "server_errors", "no_response", "retries", "p50_ms", "p95_ms", "p99_ms",
               "avg_ms")


def layout(**_query: str) -> html.Div:
    settings = runtime.settings()
    columns = [
        {"field": "name", "headerName": "CRM", "filter": "agTextColumnFilter", "pinned": "left", "width": 130},
        {"field": "endpoint", "headerName": "Endpoint", "filter": "agTextColumnFilter", "width": 260},
        {"field": "calls", "headerName": "Calls", **_NUMBER, "width": 100},
        {"field": "successes", "headerName": "OK", **_NUMBER, "width": 90},
        {"field": "client_errors", "headerName": "4xx", **_NUMBER, "width": 85},
        {"field": "server_errors", "headerName": "5xx", **_NUMBER, "width": 85},
        {"field": "no_response", "headerName": "No response", **_NUMBER, "width": 125},
        {"field": "error_rate", "headerName": "Error %", **_MS, "width": 100,
         "valueFormatter": {"function": "formatPercent(params.value)"}},
        {"field": "retries", "headerName": "Retries", **_NUMBER, "width": 100},
        {"field": "avg_ms", "headerName": "Avg ms", **_LATENCY, "width": 100},
        {"field": "p50_ms", "headerName": "p50 ms", **_LATENCY, "width": 100},
        {"field": "p95_ms", "headerName": "p95 ms", **_LATENCY, "width": 100},
        {"field": "p99_ms", "headerName": "p99 ms", **_LATENCY, "width": 100},
    ]
    graph = {"config": {"displaylogo": False, "responsive": True}, "style": {"height": "320px"}}
    return html.Div([
        ignored_chips(unknown_parameters(_query, ("at",))),
        dcc.Store(id=ids.RATE_LIMIT_RESETS),
        page_header("API usage", REFRESH, settings.refresh_seconds),
        as_of_note.note(ids.API_USAGE_AS_OF_NOTE, as_of_note.at_of_query(_query),
                        "calls in the window ending then; each rate limit as its last call before then reported it, "
                        "its reset counted from then; each breaker in the state its last transition before then "
                        "left it."),
        dbc.Row(dbc.Col(range_control(ids.API_USAGE_RANGE, DEFAULT_RANGE), xs=12), className="mb-3"),
        dbc.Alert(id=ids.API_USAGE_NOTE, color="info", is_open=False, className="small"),
        html.H5("Rate limits"),
        dbc.Row(id=ids.RATE_LIMIT_TILES, className="g-3 mb-3"),
        chart(dcc.Graph(id=ids.RATE_LIMIT_HISTORY, config={"displaylogo": False}, style={"height": "340px"})),
        html.H5("Circuit breakers"),
        dbc.Row(id=ids.BREAKER_TILES, className="g-3 mb-2"),
        chart(dcc.Graph(id=ids.BREAKER_TIMELINE, config={"displaylogo": False})),
        dbc.Row([
            dbc.Col(dbc.Card(dbc.CardBody(chart(dcc.Graph(id=ids.API_LATENCY_CHART, **graph))), className="shadow-sm"),
                    xs=12, lg=6),
            dbc.Col(dbc.Card(dbc.CardBody(chart(dcc.Graph(id=ids.API_VOLUME_CHART, **graph))), className="shadow-sm"),
                    xs=12, lg=6),
        ], className="g-3 my-2"),
        html.H5("Calls per CRM and endpoint"),
        fit_to_phones(size_by_content(dag.AgGrid(
            id=ids.API_STATS_GRID, rowData=[], columnDefs=columns,
            defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True},
            dashGridOptions={"domLayout": "autoHeight"}, style={"width": "100%"}),
            text=("endpoint",)),  # every number fits; a long endpoint path is cut, whole on hover
            PHONE_HIDES, first="error_rate"),
        row_detail(ids.API_STATS_GRID),
    ])


def _rate_tile(index: int, limit: dict, now_iso: str | None = None, chosen_range: str = DEFAULT_RANGE) -> dbc.Col:
    """A limit's card; once its window has reset it is greyed: "seen 12 min ago; window reset" (and a
    live one whose countdown runs out greys in the browser: ``limit-reset``, assets/grids.css). Its
    429 count names its own span, the page's window: "2 × 429 in the past 24 hours"."""
    percent = limit["percent_used"] or 0
    live = limit.get("in_window", True)
    colour = LEVEL_COLOURS[limit["level"]] if live else "secondary"
    if live:
        when = html.Span("", id={"type": ids.RESET_COUNTDOWN, "index": index}, className="text-muted reset-countdown")
    else:
        when = html.Span(f"seen {_minutes_ago(limit['seen_at'], now_iso)}; window reset",
                         className="text-muted reset-countdown stale-limit")
    return dbc.Col(html.Div(dbc.Card(dbc.CardBody([
        html.Div([html.Strong(limit["name"]), html.Span(f" {limit['endpoint']}", className="text-muted small")],
                 className="text-truncate", title=f"{limit['name']} {limit['endpoint']}"),
        dbc.Progress(value=percent, color=colour, className="my-2",
                     label=f"{percent:.0f}%" if limit["percent_used"] is not None else ""),
        html.Div([
            html.Span(f"{limit['remaining'] if limit['remaining'] is not None else '—'} of "
                      f"{limit['limit'] if limit['limit'] is not None else '—'} left", className="me-2"),
            when,
        ], className="small"),
        html.Div(f"{limit['throttled']:,} × 429 in {range_words(chosen_range)}",
                 className="small text-danger throttled" if limit["throttled"] and live else "small text-muted"),
    ]), className=f"shadow-sm h-100 border-{colour} rate-limit-tile" + ("" if live else " opacity-75 stale"),
        id=f"rate-limit-{limit['crm_source']}-{index}"),
        id={"type": ids.RATE_LIMIT_TILE, "index": index}, className="h-100"), xs=12, sm=6, lg=3)


def _minutes_ago(seen_at: str | None, now_iso: str | None) -> str:
    if not seen_at or not now_iso:
        return "earlier"
    minutes = int((datetime.fromisoformat(now_iso.replace("Z", "+00:00")) -
                   datetime.fromisoformat(seen_at.replace("Z", "+00:00"))).total_seconds() // 60)
    return "just now" if minutes < 1 else f"{minutes} min ago"


def _breaker_tile(breaker: dict, zone: str | None) -> dbc.Col:
    minutes = breaker["open_seconds"] / 60
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div([html.Strong(breaker["breaker"]),
                  dbc.Badge(breaker["state"], color=STATE_COLOURS.get(breaker["state"], "secondary"),
                            className="ms-2 breaker-state")]),
        html.Div(f"{breaker['failure_count']} failures · open {minutes:.0f} min in the window",
                 className="small text-muted"),
        html.Div(f"last: {display.local_clock(breaker['last_transition'], zone)}",
                 className="small text-muted", title=breaker["last_reason"] or ""),
    ]), className="shadow-sm h-100", id=f"breaker-{breaker['breaker']}"), xs=12, sm=6, lg=3)


@refresh_callback(
    REFRESH, [Output(ids.RATE_LIMIT_TILES, "children"), Output(ids.RATE_LIMIT_RESETS, "data"),
              Output(ids.RATE_LIMIT_HISTORY, "figure"), Output(ids.BREAKER_TILES, "children"),
              Output(ids.BREAKER_TIMELINE, "figure"), Output(ids.API_LATENCY_CHART, "figure"),
              Output(ids.API_VOLUME_CHART, "figure"), Output(ids.API_STATS_GRID, "rowData"),
              Output(ids.API_USAGE_NOTE, "children"), Output(ids.API_USAGE_NOTE, "is_open"),
              Output(ids.API_USAGE_NOTE, "color")],
    [Input(ids.API_USAGE_RANGE, "value"), Input(ids.THEME_MODE, "data"), Input(ids.VIEWER_TIMEZONE, "data")],
    what="API usage",
)
def refresh_api_usage(now, previous, chosen_range, mode, zone) -> Refresh:
    window = chosen_window(chosen_range, now, DEFAULT_RANGE)
    chosen_range = window.range
    engine = runtime.engine()
    stats, stats_error = panel_note.load(CALLS, lambda: crm_api_usage.api_stats(engine, window, now))
    limits, limits_error = panel_note.load(LIMITS, lambda: crm_api_usage.rate_limit_list(engine, window, now))
    breakers, breakers_error = panel_note.load(BREAKERS, lambda: crm_api_usage.breaker_list(engine, window, now))
    errors = {LIMITS: limits_error, BREAKERS: breakers_error, CALLS: stats_error}
    loaded = panel_note.loaded_before(previous)
    if all(errors.values()):  # the database is down: the banner says so
        return Refresh((no_update,) * 11, panel_note.remember(failed(utc_now(), previous, stats_error), loaded, errors))

    def parts(panel: str, count: int, render, payload, empty: dict) -> tuple:
        """A panel that failed after loading keeps its parts; one that never loaded shows its
        empty state saying so."""
        if errors[panel] and panel in loaded:
            return (no_update,) * count
        return render(payload or empty, f"{panel} did not load" if errors[panel] else None)

    notes = [panel_note.sentence(panel, error, loaded) for panel, error in errors.items() if error]
    if stats and stats.get("note"):
        notes.append(stats["note"])
    note = " ".join(notes) or None
    return Refresh((
        *parts(LIMITS, 3, partial(_limit_parts, zone=zone, mode=mode, chosen_range=chosen_range, now=now), limits,
               {"limits": [], "history": []}),
        *parts(BREAKERS, 2, partial(_breaker_parts, zone=zone, mode=mode), breakers, {"breakers": []}),
        *parts(CALLS, 3, partial(_calls_parts, chosen_range=chosen_range, zone=zone, mode=mode), stats,
               {"series": [], "endpoints": []}),
        note, bool(note), "warning" if any(errors.values()) else "info",
    ), panel_note.remember(refreshed(utc_now(), at=as_of_note.viewed_at()), loaded, errors))


def _limit_parts(limits: dict, why: str | None, zone: str | None, mode: str | None,
                 chosen_range: str = DEFAULT_RANGE, now: datetime | None = None) -> tuple:
    """``now``: the moment shown (a page as of ``at``: its readings' ages are counted from it)."""
    why = why or "No rate-limit headers seen in this window"
    shown = display.iso_utc(now or utc_now())
    return (
        [_rate_tile(i, limit, shown, chosen_range) for i, limit in enumerate(limits["limits"])] or
        [dbc.Col(html.Div(why + ".", className="text-muted small"))],
        [limit["reset_at"] for limit in limits["limits"] if limit.get("in_window", True)],  # one per countdown
        figures.themed(figures.remaining_history(limits["history"], why, zone), mode),
    )


def _breaker_parts(breakers: dict, why: str | None, zone: str | None, mode: str | None) -> tuple:
    return (
        [_breaker_tile(b, zone) for b in breakers["breakers"]] or
        [dbc.Col(html.Div((why or "No circuit-breaker transitions recorded") + ".", className="text-muted small"))],
        figures.themed(figures.breaker_timeline(breakers["breakers"], why or "No transitions in this window",
                                                breakers.get("start"), breakers.get("end"), zone), mode),
    )


def _calls_parts(stats: dict, why: str | None, chosen_range: str, zone: str | None, mode: str | None) -> tuple:
    why = why or f"No API calls recorded in {range_words(chosen_range)}"
    return (
        figures.themed(figures.api_series(stats["series"], "avg_ms", "Average latency (ms)", why, zone), mode),
        figures.themed(figures.api_series(stats["series"], "calls", "Calls", why, zone), mode),
        stats["endpoints"],
    )

clientside_callback(  # a live limit whose reset time passes reads "window reset" and turns grey at once;
    # as of a past moment (the URL's at) the countdowns are counted from it and stand still
    """function (tick, resets, tiles) {
        var at = window.syncMonitorAsOf ? window.syncMonitorAsOf.pageAt() : null;
        var now = at && !isNaN(Date.parse(at)) ? Date.parse(at) : Date.now(), texts = [], classes = [];
        (tiles || []).forEach(function (_, i) {
            var iso = (resets || [])[i];
            var left = iso ? Math.round((Date.parse(iso) - now) / 1000) : null;
            if (left === null) { texts.push(""); classes.push("h-100"); return; }
            if (left <= 0) { texts.push("window reset"); classes.push("h-100 limit-reset"); return; }
            var m = Math.floor(left / 60), s = left % 60;
            texts.push("resets in " + (m ? m + "m " : "") + s + "s");
            classes.push("h-100");
        });
        return [texts.slice(0, (resets || []).length), classes];
    }""",
    Output({"type": ids.RESET_COUNTDOWN, "index": ALL}, "children"),
    Output({"type": ids.RATE_LIMIT_TILE, "index": ALL}, "className"),
    Input(ids.CLOCK_TICK, "n_intervals"),
    State(ids.RATE_LIMIT_RESETS, "data"),
    State({"type": ids.RATE_LIMIT_TILE, "index": ALL}, "id"),
)

register_row_detail(ids.API_STATS_GRID)
