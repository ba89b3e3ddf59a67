"""Overview (``/``): five cards, CRM sync status and recent activity, refreshed on an interval.

Numbers: ``dashapp.payloads.overview.stats`` -> ``queries.overview.overview_counts``; CRM rows:
``dashapp.payloads.overview.crm_statuses`` -> ``queries.crm_status.crm_status``; recent activity:
``dashapp.payloads.overview.recent`` -> ``queries.recent_syncs.recent_syncs``. The same payloads are
served at /api/stats, /api/crm-status and /api/recent-syncs.

The CRM panel shows one page of 50 CRMs (problems first) with a search, a state filter and a
pager; its own callback (``show_crm_page``) loads that page after each refresh of the rest and
whenever the search, the filter or the page changes, so neither its request nor its response
grows with the number of syncs.
"""

from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
from dash import (
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
)

from dashapp import display, runtime
from dashapp.auth import disclosure
from dashapp.errors import BadParameter
from dashapp.health import snapshot as health
from dashapp.payloads import crm_api_usage, params
from dashapp.payloads import overview as payloads
from dashapp.payloads.card_links import card_links
from dashapp.web import ids
from dashapp.web.components import health_strip, panel_note
from dashapp.web.components.as_of_banner import viewed_at
from dashapp.web.components.crm_status_grid import PAGE_SIZE, count_line, crm_status_grid, grid_rows, groups, toggled
from dashapp.web.components.grid_fit import fit_to_phones, register_row_detail, row_detail
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from dashapp.web.components.recent_activity import recent_activity_grid
from dashapp.web.components.refresh_bar import (
    Refresh,
    RefreshIds,
    as_of,
    at_of,
    failed,
    page_header,
    refresh_callback,
    refreshed,
)
from dashapp.web.components.stat_cards import Stat, stat_cards
from queries.clock import utc_now
from queries.freshness import LABELS, STATES
from queries.outcomes import PARTIAL_RATE_HELP, SUCCESS_RATE_HELP

RECENT_RUNS = 20
CARDS, CRMS, RECENT = "The cards", "CRM sync status", "Recent activity"  # the panels, as their notes name them

REFRESH = RefreshIds(
    interval=ids.OVERVIEW_INTERVAL,
    button=ids.OVERVIEW_REFRESH_BUTTON,
    state=ids.OVERVIEW_REFRESH_STATE,
    received=ids.OVERVIEW_REFRESH_RECEIVED,
    text=ids.OVERVIEW_REFRESH_TEXT,
    banner=ids.OVERVIEW_ERROR_BANNER,
)


# On phones these columns move into a row's detail (a tap opens it); state (CRMs) and status
# (recent activity) come first. The CRMs' strip of runs is hidden on phones (crm_status_grid).
PHONE_HIDES_CRM = ("last_sync", "records_processed", "records_created", "records_updated", "duration_seconds",
                   "next_sync")
PHONE_HIDES_RECENT = ("id", "sync_type", "records_processed", "duration_seconds", "error_message")


ALL_STATES = "all"
MAX_SEARCH = 200  # characters, as /api/crm-status takes


def state_options(counts: dict[str, int] | None = None) -> list[dict]:
    """The state filter's choices: all, then each state worst first, with its count of CRMs
    ("Late (3)") once the payload has counted them."""
    def label(text: str, count: int) -> str:
        return text if counts is None else f"{text} ({count:,})"

    every = counts or {}
    return [{"label": label("All states", sum(every.values())), "value": ALL_STATES},
            *({"label": label(LABELS[s], every.get(s, 0)), "value": s} for s in STATES)]


def crm_panel(display_timezone: str | None) -> html.Div:
    """The CRM panel: its title, search and state filter, the grid, the count line and the pager."""
    return html.Div([
        dbc.Row([
            dbc.Col(html.H5("CRM sync status", className="mb-0"), xs=12, md=True),
            dbc.Col([
                html.Label("Search CRMs", htmlFor=ids.CRM_STATUS_SEARCH, className="visually-hidden"),
                dbc.Input(id=ids.CRM_STATUS_SEARCH, type="search", value="", debounce=400, maxLength=MAX_SEARCH,
                          placeholder="Search CRM or sync type", size="sm", autoComplete="off"),
            ], xs=7, md=4, lg=3),
            dbc.Col([
                html.Label("Show CRMs with a sync in this state", htmlFor=ids.CRM_STATUS_STATE,
                           className="visually-hidden"),
                dbc.Select(id=ids.CRM_STATUS_STATE, options=state_options(), value=ALL_STATES, size="sm"),
            ], xs=5, md=3, lg=2),
        ], className="align-items-center g-2 mt-2 mb-2"),
        html.Div(id=ids.CRM_STATUS_NOTE),
        dcc.Store(id=ids.CRM_STATUS_DATA, data=[]),
        dcc.Store(id=ids.CRM_STATUS_GROUPS, data=[]),
        dcc.Store(id=ids.CRM_STATUS_VIEW, data={}),
        dcc.Store(id=ids.CRM_STATUS_EXPANDED, data=[], storage_type="session"),
        fit_to_phones(crm_status_grid(display_timezone), PHONE_HIDES_CRM, first="state_label"),
        row_detail(ids.CRM_STATUS_GRID, skip=["label"]),
        html.Div([
            html.Span("loading…", id=ids.CRM_STATUS_COUNT, className="text-muted small me-3", role="status"),
            dbc.Pagination(id=ids.CRM_STATUS_PAGER, max_value=1, active_page=1, fully_expanded=False,
                           previous_next=True, first_last=True, size="sm", class_name="mb-0 d-none"),
        ], className="d-flex flex-wrap align-items-center justify-content-between gap-2 mt-2"),
    ])


def layout(**_query: str) -> html.Div:
    settings = runtime.settings()
    return html.Div([
        ignored_chips(unknown_parameters(_query, (params.AT,))),
        page_header("Overview", REFRESH, settings.refresh_seconds),
        dcc.Interval(id=ids.HEALTH_STRIP_INTERVAL, interval=settings.health_refresh_seconds * 1000),
        html.Div(id=ids.HEALTH_STRIP, className="mb-3"),
        html.Div(id=ids.OVERVIEW_CARDS_NOTE),
        dbc.Row(id=ids.OVERVIEW_CARDS, className="g-3 mb-2"),
        crm_panel(settings.display_timezone),
        html.H5("Recent activity", className="mt-4"),
        html.Div(id=ids.RECENT_ACTIVITY_NOTE),
        fit_to_phones(recent_activity_grid(settings.display_timezone), PHONE_HIDES_RECENT),
        row_detail(ids.RECENT_ACTIVITY_GRID, skip=["id"]),
    ])


TIGHTEST_COLOURS = {"ok": "success", "warning": "warning", "critical": "danger", "unknown": "secondary"}


def overview_cards(overview: dict, tightest: dict | None, now: datetime | None = None,
                   at: datetime | None = None) -> list[dbc.Col]:
    """The cards; with ``now`` (when the numbers were computed) each opens the runs it counts
    (``at``: as of that past moment)."""
    links = card_links(now, at) if now is not None else {}
    limit = Stat("tightest-limit", "Tightest rate limit", "—", "secondary",
                 "no rate limit in its window (headers of the last hour)", links.get("tightest-limit")) \
        if tightest is None else Stat("tightest-limit", "Tightest rate limit", f"{tightest['percent_used']:.0f}%",
                                      TIGHTEST_COLOURS[tightest["level"]], f"{tightest['name']} {tightest['endpoint']}",
                                      links.get("tightest-limit"))
    return stat_cards([
        Stat("active", "Active", f"{overview['active_syncs']:,}", "primary", href=links.get("active")),
        Stat("completed", "Completed 24h", f"{overview['completed_today']:,}", "success", href=links.get("completed")),
        Stat("failed", "Failed 24h", f"{overview['failed_today']:,}", "danger", href=links.get("failed")),
        Stat("partial", "Partial 24h", f"{overview['partial_today']:,}", "warning",
             f"{display.percent(overview.get('partial_rate', 0.0))} of finished runs · {PARTIAL_RATE_HELP}",
             href=links.get("partial")),
        Stat("success-rate", "Success rate 24h", display.percent(overview["success_rate"]), "dark",
             SUCCESS_RATE_HELP, href=links.get("success-rate")),
        limit,
    ])


def _cards(engine, now: datetime) -> list[dbc.Col]:
    at = viewed_at(now)
    stats = payloads.stats(engine, now, as_of=at is not None)  # maybe shared: links use the moment it was computed at
    counted_at = datetime.fromisoformat(stats["timestamp"].replace("Z", "+00:00"))
    limits = crm_api_usage.rate_limit_list(engine, crm_api_usage.PAST_HOUR, now)
    return overview_cards(stats["overview"], crm_api_usage.tightest(limits), counted_at, at)


def assumed_note(assumed: str) -> html.Div:
    """What a view as of a past moment assumed (the warehouse keeps no past of it)."""
    return html.Div(f"As of this moment, assumed: {assumed}.", className="small text-muted mb-2 as-of-assumed",
                    id=ids.AS_OF_ASSUMED)


@refresh_callback(
    REFRESH, [Output(ids.OVERVIEW_CARDS, "children"), Output(ids.RECENT_ACTIVITY_GRID, "rowData"),
              Output(ids.OVERVIEW_CARDS_NOTE, "children"), Output(ids.RECENT_ACTIVITY_NOTE, "children"),
              Output(ids.CRM_STATUS_NOTE, "children")],
    what="overview",
)
def refresh_overview(now: datetime, previous: dict | None) -> Refresh:
    """Each panel loads on its own: one that fails keeps its numbers and says why; when every
    panel fails (the database is down) the banner says so instead, and no panel's note does (the
    CRM panel, which loads after this, leaves its note to the banner then: ``show_crm_page``)."""
    engine = runtime.engine()
    as_of = viewed_at(now) is not None
    cards, cards_error = panel_note.load(CARDS, lambda: _cards(engine, now))
    recent, recent_error = panel_note.load(
        RECENT, lambda: payloads.recent(engine, RECENT_RUNS, now, as_of=as_of)["syncs"])
    errors = {CARDS: cards_error, RECENT: recent_error}
    loaded = panel_note.loaded_before(previous)
    if all(errors.values()):
        return Refresh((no_update,) * 2 + (None,) * 3,
                       panel_note.remember(failed(now, previous, cards_error), loaded, errors))
    return Refresh((
        no_update if cards_error else cards,
        no_update if recent_error else recent,
        *(panel_note.note(panel, error, loaded) for panel, error in errors.items()),
        no_update,  # the CRM panel's own callback says how it went
    ), panel_note.remember(refreshed(utc_now()), loaded, errors))  # updated now, whatever moment it shows


def _page(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1_000_000 else 1


@callback(
    Output(ids.CRM_STATUS_DATA, "data"), Output(ids.CRM_STATUS_GROUPS, "data"),
    Output(ids.CRM_STATUS_PAGER, "max_value"), Output(ids.CRM_STATUS_PAGER, "active_page"),
    Output(ids.CRM_STATUS_PAGER, "class_name"), Output(ids.CRM_STATUS_COUNT, "children"),
    Output(ids.CRM_STATUS_STATE, "options"), Output(ids.CRM_STATUS_VIEW, "data"),
    Output(ids.CRM_STATUS_NOTE, "children", allow_duplicate=True),
    Input(ids.OVERVIEW_REFRESH_STATE, "data"), Input(ids.CRM_STATUS_SEARCH, "value"),
    Input(ids.CRM_STATUS_STATE, "value"), Input(ids.CRM_STATUS_PAGER, "active_page"),
    State(ids.CRM_STATUS_VIEW, "data"),
    prevent_initial_call=True,  # the first refresh of the page (its refresh state) loads it
)
def show_crm_page(refresh: dict | None, search: object, state: object, page: object, view: dict | None) -> tuple:
    """One page of CRMs (problems first) for the search and state filter, after each refresh of
    the page and whenever the search, the filter or the page changes (a new search or filter
    starts at page 1). On a database error the grid keeps its rows and the note says why,
    unless the page's banner already says the database is down."""
    text = search.strip()[:MAX_SEARCH] if isinstance(search, str) else ""
    chosen_state = state if state in STATES else None
    number = 1 if ctx.triggered_id in (ids.CRM_STATUS_SEARCH, ids.CRM_STATUS_STATE) else _page(page)
    at = at_of(refresh)  # the moment the page shows, when not now
    engine, now = runtime.engine(), at or utc_now()
    details = disclosure.may_see_details()  # the GRANT a note may carry is for operators

    def load() -> dict:
        body = payloads.crm_statuses(engine, now, state=chosen_state, search=text, limit=PAGE_SIZE,
                                     offset=(number - 1) * PAGE_SIZE, details=details, as_of=at is not None)
        if not body["crms"] and body["total"]:  # past the last page (fewer CRMs match now): the last one
            last = (body["total"] - 1) // PAGE_SIZE
            body = payloads.crm_statuses(engine, now, state=chosen_state, search=text, limit=PAGE_SIZE,
                                         offset=last * PAGE_SIZE, details=details, as_of=at is not None)
        return body

    body, error = panel_note.load(CRMS, load)
    if error is not None:
        banner_up = isinstance(refresh, dict) and refresh.get("ok") is False
        loaded = {CRMS} if isinstance(view, dict) and view.get("loaded") else set()
        return (*(no_update,) * 8, no_update if banner_up else panel_note.note(CRMS, error, loaded))
    pages = max(1, -(-body["total"] // PAGE_SIZE))
    crms = body["crms"]
    return (
        grid_rows(crms), groups(crms), pages, body["offset"] // PAGE_SIZE + 1,
        "mb-0" if pages > 1 else "mb-0 d-none",
        count_line(body["total"], body["offset"], len(crms), text, chosen_state),
        state_options(body["states"]), {"loaded": True}, assumed_note(body["assumed"]) if "assumed" in body else None,
    )


clientside_callback(  # the page's rows, each CRM's types beneath it while it is open: no request
    ClientsideFunction("syncMonitor", "crmRows"),
    Output(ids.CRM_STATUS_GRID, "rowData"),
    Input(ids.CRM_STATUS_DATA, "data"),
    Input(ids.CRM_STATUS_EXPANDED, "data"),
)


@callback(Output(ids.CRM_STATUS_EXPANDED, "data"), Input(ids.CRM_STATUS_GRID, "cellClicked"),
          State(ids.CRM_STATUS_EXPANDED, "data"), State(ids.CRM_STATUS_GROUPS, "data"), prevent_initial_call=True)
def open_or_close_crm(clicked: dict | None, expanded: list[str] | None, grouped: list[str] | None) -> list[str]:
    """A click on a CRM that groups several sync types shows or hides them (sent: the click, the
    CRMs open and the page's CRMs that group types; never the rows)."""
    return toggled(expanded if isinstance(expanded, list) else [], clicked if isinstance(clicked, dict) else None,
                   grouped if isinstance(grouped, list) else [])


HEALTH_RECORDED = "Health as recorded at the moment above: the services' statuses only, not their figures."


@callback(Output(ids.HEALTH_STRIP, "children"), Input(ids.HEALTH_STRIP_INTERVAL, "n_intervals"),
          State(ids.PAGE_LOCATION, "search"))
def refresh_health_strip(_ticks, search=None):
    """On its own interval, so a slow or absent service never holds the numbers above back; as
    of a past moment the statuses the app recorded then, and a note that says so."""
    try:
        at = as_of(search, utc_now())
    except BadParameter:
        at = None
    if at is None:
        return health_strip.strip(disclosure.shown_health(health.system_health(runtime.settings(), runtime.engine())))
    strip = health_strip.strip(disclosure.shown_health(health.recorded_health(runtime.engine(), at)))
    return [html.Div(HEALTH_RECORDED, className="small text-muted mb-1 as-of-assumed"), *strip]

register_row_detail(ids.CRM_STATUS_GRID)
register_row_detail(ids.RECENT_ACTIVITY_GRID)
