"""Timeline (``/timeline``): what happened over a window, one swimlane per CRM (runs as bars coloured
by status, incident and late spans shaded, alerts, breakers and other events as markers), and the
events under it, newest first.

Lanes: ``dashapp.payloads.timeline_lanes.lanes_json`` (served as /api/timeline/lanes); events:
``dashapp.payloads.timeline.timeline_json`` (/api/timeline). The controls live in the URL: ``range``
(24h default, 7d, 30d) or ``start``/``end`` (at most 31 days), ``crm_source``, ``sync_type`` and
``kind``; a bad one is shown as a chip and its default used. A click on a run opens its page, on an
incident or late span the overview as of its start (``/?at=``), on an alert the alerts page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html, no_update

from dashapp import display, runtime
from dashapp.errors import BadParameter
from dashapp.payloads import digest as digest_payloads
from dashapp.payloads import params
from dashapp.payloads import timeline as timeline_payloads
from dashapp.payloads import timeline_lanes as lane_payloads
from dashapp.payloads.params import CUSTOM, RANGES
from dashapp.web import ids, viewer
from dashapp.web.components import panel_note, swimlanes
from dashapp.web.components.chart_box import chart
from dashapp.web.components.digest_summary import summary_card
from dashapp.web.components.filter_options import age_label, filter_options
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from dashapp.web.components.refresh_bar import Refresh, RefreshIds, failed, page_header, refresh_callback, refreshed
from queries import timeline as timeline_queries
from queries.clock import utc_now

DEFAULT_RANGE = timeline_payloads.DEFAULT_RANGE
CHOICES = tuple(name for name, span in RANGES.items() if span is not None and span <= timeline_payloads.MAX_SPAN)
PAGE_PARAMETERS = (*params.WINDOW_PARAMETERS, "crm_source", "sync_type", "kind")
EVENTS_PER_PAGE = 50
DAY_SUMMARY = "The day's summary"  # the morning digest of the 24 hours the window ends with
MAX_EVENT_PAGES = timeline_payloads.MAX_OFFSET // EVENTS_PER_PAGE
REFRESH = RefreshIds(
    interval=ids.TIMELINE_INTERVAL, button=ids.TIMELINE_REFRESH_BUTTON, state=ids.TIMELINE_REFRESH_STATE,
    received=ids.TIMELINE_REFRESH_RECEIVED, text=ids.TIMELINE_REFRESH_TEXT, banner=ids.TIMELINE_ERROR_BANNER,
)
BADGES = {"incident_started": "danger", "incident_resolved": "success", "late_started": "warning",
          "late_ended": "success", "alert_fired": "danger", "alert_acknowledged": "warning",
          "alert_resolved": "success", "breaker_opened": "danger", "breaker_closed": "success"}
# a parameter the filter named as bad -> the parameters dropped to read the rest
DROPPED = {"start": ("start", "end"), "end": ("start", "end"), "range": ("range", "age", "days", "hours")}


def _as_lists(query: dict) -> dict[str, list[str]]:
    return {k: (v if isinstance(v, list) else [v]) for k, v in query.items() if isinstance(v, str | list)}


def selection(query: dict, now: datetime) -> tuple[timeline_payloads.TimelineFilter, list[BadParameter]]:
    """The filter a page URL asks for, and its bad parameters (each dropped for its default)."""
    args = _as_lists(query)
    ignored = unknown_parameters(args, PAGE_PARAMETERS)
    args = {k: v for k, v in args.items() if k in PAGE_PARAMETERS}
    while True:
        try:
            return timeline_payloads.timeline_filter(args, now), ignored
        except BadParameter as exc:
            ignored.append(exc)
            dropped = DROPPED.get(exc.name, (exc.name,))
            if not any(name in args for name in dropped):  # nothing left to drop: the defaults
                return timeline_payloads.timeline_filter({}, now), ignored
            args = {k: v for k, v in args.items() if k not in dropped}


def range_control(value: str) -> dbc.RadioItems:
    options = [{"label": age_label(RANGES[name], short=True), "value": name} for name in CHOICES]
    options.append({"label": "Custom", "value": CUSTOM})
    return dbc.RadioItems(id=ids.TIMELINE_RANGE, value=value, inline=True, className="btn-group",
                          inputClassName="btn-check", labelClassName="btn btn-outline-secondary btn-sm",
                          labelCheckedClassName="active", options=options)


def kind_options() -> list[dict]:
    return [{"label": swimlanes.kind_words(kind), "value": kind} for kind in timeline_queries.KINDS]


def layout(**query: str | list[str]) -> html.Div:
    settings = runtime.settings()
    f, ignored = selection(query, utc_now())
    custom = _custom_args(f) if f.window.range == CUSTOM else None
    zone = viewer.zone()
    chosen_kinds = [] if set(f.kinds) == set(timeline_queries.KINDS) else list(f.kinds)
    multi = {"multi": True, "clearable": True, "className": "timeline-dropdown"}
    return html.Div([
        ignored_chips(ignored),
        dcc.Location(id=ids.TIMELINE_NAVIGATE, refresh="callback-nav"),
        dcc.Store(id=ids.TIMELINE_CUSTOM, data=custom),
        dcc.Store(id=ids.TIMELINE_URL_SEARCH),
        dcc.Store(id=ids.TIMELINE_URL_PUSHED),
        page_header("Timeline", REFRESH, settings.refresh_seconds),
        dbc.Row([
            dbc.Col(range_control(f.window.range), xs=12, lg="auto", className="mb-2"),
            dbc.Col(html.Div([
                dbc.Input(id=ids.TIMELINE_START, type="datetime-local", size="sm", debounce=True, placeholder="from",
                          value=viewer.local_input(f.start, zone) if custom else ""),
                dbc.Input(id=ids.TIMELINE_END, type="datetime-local", size="sm", debounce=True, placeholder="to",
                          value=viewer.local_input(f.end, zone) if custom else ""),
                html.Small(f"in {display.zone_name(zone)}", id=ids.TIMELINE_RANGE_ZONE,
                           className="text-muted align-self-center text-nowrap"),
            ], id=ids.TIMELINE_CUSTOM_RANGE, className=_custom_class(f.window.range)), xs=12, lg="auto",
                className="mb-2"),
        ], className="g-2 align-items-center"),
        dbc.Row([
            dbc.Col(dcc.Dropdown(id=ids.TIMELINE_CRM, options=filter_options("crm_source"), placeholder="All CRMs",
                                 value=list(f.crm_sources), **multi), xs=12, md=4),
            dbc.Col(dcc.Dropdown(id=ids.TIMELINE_SYNC_TYPE, options=filter_options("sync_type"),
                                 placeholder="All sync types", value=list(f.sync_types), **multi), xs=12, md=4),
            dbc.Col(dcc.Dropdown(id=ids.TIMELINE_KIND, options=kind_options(), placeholder="All events",
                                 value=chosen_kinds, **multi), xs=12, md=4),
        ], className="g-2 mb-3"),
        html.Div(id=ids.TIMELINE_DAY_SUMMARY),
        dbc.Card(dbc.CardBody([
            html.Div(id=ids.TIMELINE_LANES_NOTE, className="small text-muted"),
            chart(dcc.Graph(id=ids.TIMELINE_LANES_CHART, config={"displaylogo": False})),
            html.Div([
                html.Span(id=ids.TIMELINE_LANE_COUNT, className="small text-muted me-2"),
                dbc.Pagination(id=ids.TIMELINE_LANE_PAGER, max_value=1, active_page=1, size="sm",
                               fully_expanded=False, first_last=True, previous_next=True, className="mb-0"),
            ], className="d-flex flex-wrap align-items-center gap-2 mt-1"),
        ]), className="shadow-sm mb-3"),
        dbc.Card(dbc.CardBody([
            html.H6("Events"),
            html.Div(id=ids.TIMELINE_EVENTS_NOTE),
            html.Div(id=ids.TIMELINE_EVENTS),
            html.Div([
                html.Span(id=ids.TIMELINE_EVENT_COUNT, className="small text-muted me-2"),
                dbc.Pagination(id=ids.TIMELINE_EVENT_PAGER, max_value=1, active_page=1, size="sm",
                               fully_expanded=False, first_last=True, previous_next=True, className="mb-0"),
            ], className="d-flex flex-wrap align-items-center gap-2 mt-1"),
        ]), className="shadow-sm"),
    ])


def _custom_class(chosen_range: str) -> str:
    return "d-flex flex-wrap gap-2" if chosen_range == CUSTOM else "d-none"


def custom_window(start: object, end: object, zone: object) -> dict[str, list[str]] | None:
    """The custom inputs (datetime-local, in the viewer's ``zone``) as the window's arguments in ISO
    UTC; None while either is empty or not a time."""
    try:
        moments = [viewer.from_local_input(value, zone) for value in (start, end)]
    except ValueError:
        return None
    return {"start": [display.iso_utc(moments[0])], "end": [display.iso_utc(moments[1])]}


@callback(
    Output(ids.TIMELINE_CUSTOM, "data"),
    Input(ids.TIMELINE_START, "value"), Input(ids.TIMELINE_END, "value"), State(ids.VIEWER_TIMEZONE, "data"),
    prevent_initial_call=True,
)
def custom_inputs(start, end, zone):
    """A custom window typed in: the store the refresh and the URL read (a half-typed one waits)."""
    window = custom_window(start, end, zone)
    return no_update if window is None else window


clientside_callback(
    "function (value) { return value === 'custom' ? 'd-flex flex-wrap gap-2' : 'd-none'; }",
    Output(ids.TIMELINE_CUSTOM_RANGE, "className"),
    Input(ids.TIMELINE_RANGE, "value"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("syncMonitor", "zoneNote"),
    Output(ids.TIMELINE_RANGE_ZONE, "children"),
    Input(ids.VIEWER_TIMEZONE, "data"),
)


def _custom_args(f: timeline_payloads.TimelineFilter) -> dict[str, list[str]]:
    return {name: [display.iso_utc(moment)] for name, moment in (("start", f.window.start), ("end", f.window.end))
            if moment is not None}


def controls_filter(chosen_range: object, custom: dict | None, crms: object, sync_types: object, kinds: object,
                    now: datetime) -> timeline_payloads.TimelineFilter:
    """The controls' values (as the browser sent them: anything) as the timeline's filter."""
    args: dict[str, list[str]] = {}
    if chosen_range == CUSTOM and isinstance(custom, dict):
        args.update({k: [str(v) for v in custom[k]] for k in ("start", "end") if isinstance(custom.get(k), list)})
    else:
        args["range"] = [chosen_range if chosen_range in CHOICES else DEFAULT_RANGE]
    for name, value in (("crm_source", crms), ("sync_type", sync_types), ("kind", kinds)):
        if isinstance(value, list):
            args[name] = [str(v) for v in value]
    return timeline_payloads.timeline_filter(args, now)


def _pages(total: int, per_page: int, cap: int | None = None) -> int:
    pages = max(1, -(-total // per_page))
    return min(pages, cap) if cap else pages


def _page(value: object, pages: int) -> int:
    return min(max(1, value), pages) if isinstance(value, int) and not isinstance(value, bool) else 1


@refresh_callback(
    REFRESH,
    [Output(ids.TIMELINE_LANES_CHART, "figure"), Output(ids.TIMELINE_LANES_NOTE, "children"),
     Output(ids.TIMELINE_LANE_PAGER, "max_value"), Output(ids.TIMELINE_LANE_COUNT, "children"),
     Output(ids.TIMELINE_EVENTS_NOTE, "children"), Output(ids.TIMELINE_EVENTS, "children"),
     Output(ids.TIMELINE_EVENT_PAGER, "max_value"),
     Output(ids.TIMELINE_EVENT_COUNT, "children"), Output(ids.TIMELINE_DAY_SUMMARY, "children")],
    [Input(ids.TIMELINE_RANGE, "value"), Input(ids.TIMELINE_CRM, "value"), Input(ids.TIMELINE_SYNC_TYPE, "value"),
     Input(ids.TIMELINE_KIND, "value"), Input(ids.TIMELINE_LANE_PAGER, "active_page"),
     Input(ids.TIMELINE_EVENT_PAGER, "active_page"), Input(ids.THEME_MODE, "data"),
     Input(ids.VIEWER_TIMEZONE, "data"), Input(ids.TIMELINE_CUSTOM, "data")],
    what="timeline",
)
def refresh_timeline(now, previous, chosen_range, crms, sync_types, kinds, lane_page, event_page, mode, zone,
                     custom=None) -> Refresh:
    zone = viewer.valid_zone(zone) or "UTC"
    f = controls_filter(chosen_range, custom, crms, sync_types, kinds, now)
    loaded = panel_note.loaded_before(previous)
    lane_page = lane_page if isinstance(lane_page, int) and not isinstance(lane_page, bool) and lane_page > 0 else 1
    lanes, lanes_error = panel_note.load("The swimlanes", lambda: lane_payloads.lanes_json(
        runtime.engine(), lane_payloads.LaneFilter(f, lane_payloads.MAX_LANES,
                                                   min((lane_page - 1) * lane_payloads.MAX_LANES,
                                                       timeline_payloads.MAX_OFFSET)), now))
    event_page = _page(event_page, MAX_EVENT_PAGES)
    events, events_error = panel_note.load("The event list", lambda: timeline_payloads.timeline_json(
        runtime.engine(), _events_filter(f, event_page)))
    outputs: list = []
    if lanes is None:
        outputs += [no_update, panel_note.note("The swimlanes", lanes_error, loaded), no_update, no_update]
    else:
        outputs += [swimlanes.swimlanes(lanes, zone, mode), lanes_note(lanes),
                    _pages(lanes["total_lanes"], lane_payloads.MAX_LANES), lane_count(lanes)]
    if events is None:
        outputs += [panel_note.note("The event list", events_error, loaded), no_update, no_update, no_update]
    else:
        outputs += [None, event_list(events["events"], zone, now, f), _pages(events["total"], EVENTS_PER_PAGE,
                                                                    MAX_EVENT_PAGES),
                    event_count(events, event_page)]
    summary, summary_error = panel_note.load(DAY_SUMMARY, lambda: digest_payloads.digest_until(
        runtime.engine(), f.end, utc_now()))
    outputs.append(summary_card(summary) if summary is not None else panel_note.note(DAY_SUMMARY, summary_error,
                                                                                     loaded))
    errors = {"The swimlanes": lanes_error, "The event list": events_error, DAY_SUMMARY: summary_error}
    state = refreshed(now) if lanes is not None or events is not None else failed(now, previous, str(lanes_error))
    return Refresh(tuple(outputs), panel_note.remember(state, loaded, errors))


def _events_filter(f: timeline_payloads.TimelineFilter, page: int) -> timeline_payloads.TimelineFilter:
    return replace(f, limit=EVENTS_PER_PAGE, offset=min((page - 1) * EVENTS_PER_PAGE, timeline_payloads.MAX_OFFSET))


def lanes_note(lanes: dict) -> list:
    """What the figure leaves out, in words."""
    notes = []
    bucketed = [lane["name"] for lane in lanes["lanes"] if lane.get("bucketed")]
    if bucketed:
        width = next(lane["bucket_seconds"] for lane in lanes["lanes"] if lane.get("bucketed"))
        notes.append(f"{len(bucketed)} lane{'s' if len(bucketed) != 1 else ''} with more than "
                     f"{lanes['max_bars']} runs: each bar there sums the runs of {display.span(width)}, coloured by "
                     "the worst of them.")
    if lanes["events_total"] > lanes["events_drawn"]:
        notes.append(f"The newest {lanes['events_drawn']:,} of {lanes['events_total']:,} events are drawn; "
                     "a shorter window or a filter shows the rest.")
    return [html.Div(note, className="timeline-note") for note in notes]


def lane_count(lanes: dict) -> str:
    total, first = lanes["total_lanes"], lanes["lane_offset"] + 1
    if total == 0:
        return ""
    last = lanes["lane_offset"] + len(lanes["lanes"])
    return f"Lanes {first:,}–{last:,} of {total:,}, those with failed or partial runs first"


def event_count(events: dict, page: int) -> str:
    total = events["total"]
    if total == 0:
        return ""
    first = (page - 1) * EVENTS_PER_PAGE + 1
    return f"Events {first:,}–{first + len(events['events']) - 1:,} of {total:,}, newest first"


def _ago(at: str | None, now: datetime) -> str:
    if not display.finite(at):
        return ""
    seconds = (now - display.from_iso(at)).total_seconds()
    return f"{display.span(seconds)} ago" if seconds >= 60 else "just now" if seconds >= 0 else ""


def event_list(events: list[dict], zone: str, now: datetime,
               f: timeline_payloads.TimelineFilter) -> html.Div | dbc.ListGroup:
    """The events as a list: kind (a badge), CRM and sync type, time (viewer's zone, and how long
    ago), what happened, and a link to the run, the alert or the history of the pair over the window."""
    if not events:
        return html.Div("No events in this window for this selection.", className="text-muted small")
    items = []
    for event in events:
        href = lane_payloads.event_link(event, f.start, f.end)
        words = (f"run #{event['run_id']}" if event.get("run_id") is not None
                 else "alerts" if event.get("alert_id") is not None else "history")
        who = display.crm_name(event["crm_source"]) if event.get("crm_source") else event.get("service") or ""
        items.append(dbc.ListGroupItem([
            html.Div([
                html.Span([
                    html.Span(swimlanes.kind_words(event["kind"]),
                              className=f"badge text-bg-{BADGES.get(event['kind'], 'secondary')} me-2"),
                    html.Strong(who), html.Span(f" · {event['sync_type']}" if event.get("sync_type") else ""),
                ]),
                html.Span([display.local_clock(event["at"], zone), html.Span(f" · {_ago(event['at'], now)}"
                                                                             if _ago(event["at"], now) else "",
                                                                             className="text-muted")],
                          title=f"{event['at']} (UTC)", className="small text-nowrap"),
            ], className="d-flex flex-wrap justify-content-between column-gap-2"),
            html.Div([html.Span(event.get("summary") or "", className="text-break me-2"),
                      dcc.Link(words, href=href, className="timeline-event-link text-nowrap")], className="small"),
        ], className="timeline-event py-1"))
    return dbc.ListGroup(items, flush=True, id="timeline-event-list")


@callback(
    Output(ids.TIMELINE_NAVIGATE, "href"),
    Input(ids.TIMELINE_LANES_CHART, "clickData"),
    prevent_initial_call=True,
)
def open_link(click):
    """A click on a bar, span or marker opens its link (the app's own paths only)."""
    points = (click or {}).get("points") or []
    target = (points[0].get("customdata") or [None])[0] if points else None
    if not isinstance(target, str) or not target.startswith(runtime.href("/")) or target.startswith("//"):
        return no_update
    return target


@callback(
    Output(ids.TIMELINE_LANE_PAGER, "active_page"), Output(ids.TIMELINE_EVENT_PAGER, "active_page"),
    Input(ids.TIMELINE_RANGE, "value"), Input(ids.TIMELINE_CRM, "value"), Input(ids.TIMELINE_SYNC_TYPE, "value"),
    Input(ids.TIMELINE_KIND, "value"), Input(ids.TIMELINE_CUSTOM, "data"),
    prevent_initial_call=True,
)
def first_pages(*_controls):
    """A new selection starts at the first page of lanes and of events."""
    return 1, 1


def url_state(chosen_range: object, crms: list | None, sync_types: list | None, kinds: list | None,
              custom: dict | None) -> dict:
    """The controls as query-string arguments (``params.to_search``): the default range left out."""
    state: dict[str, object] = {}
    if chosen_range == CUSTOM and custom:
        state.update({name: values[0] for name, values in custom.items() if name in ("start", "end") and values})
    elif chosen_range in CHOICES and chosen_range != DEFAULT_RANGE:
        state["range"] = chosen_range
    return {**state, "crm_source": crms or [], "sync_type": sync_types or [], "kind": kinds or []}


@callback(
    Output(ids.TIMELINE_URL_SEARCH, "data"),
    Input(ids.TIMELINE_RANGE, "value"), Input(ids.TIMELINE_CRM, "value"),
    Input(ids.TIMELINE_SYNC_TYPE, "value"), Input(ids.TIMELINE_KIND, "value"), Input(ids.TIMELINE_CUSTOM, "data"),
    prevent_initial_call=True,
)
def url_search(chosen_range, crms, sync_types, kinds, custom) -> str:
    return params.to_search(url_state(chosen_range, crms, sync_types, kinds, custom))


clientside_callback(  # the URL follows the controls, without a reload (as on the history)
    ClientsideFunction("syncMonitor", "pushSearch"),
    Output(ids.TIMELINE_URL_PUSHED, "data"),
    Input(ids.TIMELINE_URL_SEARCH, "data"),
    prevent_initial_call=True,
)
