"""Overview (``/``): five cards, CRM sync status and recent activity, refreshed on an interval.

Numbers: ``dashapp.payloads.dashboard.stats`` -> ``queries.overview.overview_counts``; CRM rows:
``dashapp.payloads.dashboard.crm_statuses`` -> ``queries.crm_status.crm_status``; recent activity:
``dashapp.payloads.dashboard.recent`` -> ``queries.recent_syncs.recent_syncs``. The same payloads are
served at /api/stats, /api/crm-status and /api/recent-syncs.
"""

from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from dashapp import display, runtime
from dashapp.auth import disclosure
from dashapp.health import snapshot as health
from dashapp.payloads import crm_api_usage
from dashapp.payloads import dashboard as payloads
from dashapp.payloads.card_links import card_links
from dashapp.web import ids
from dashapp.web.components import health_strip, panel_note
from dashapp.web.components.crm_status_grid import crm_status_grid, grid_rows, toggled
from dashapp.web.components.grid_fit import fit_to_phones, register_row_detail, row_detail
from dashapp.web.components.ignored_chips import ignored_chips, unknown_parameters
from dashapp.web.components.recent_activity import recent_activity_grid
from dashapp.web.components.refresh_bar import (
    Refresh,
    RefreshIds,
    failed,
    page_header,
    refresh_callback,
    refreshed,
)
from dashapp.web.components.stat_cards import Stat, stat_cards
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


# On phones these columns move into a row's detail (a tap opens it); status comes first.
PHONE_HIDES_CRM = ("last_sync", "records_processed", "records_created", "records_updated", "duration_seconds",
                   "next_sync")
PHONE_HIDES_RECENT = ("id", "sync_type", "records_processed", "duration_seconds", "error_message")


def layout(**_query: str) -> html.Div:
    settings = runtime.settings()
    return html.Div([
        ignored_chips(unknown_parameters(_query, ())),
        page_header("Overview", REFRESH, settings.refresh_seconds),
        dcc.Interval(id=ids.HEALTH_STRIP_INTERVAL, interval=settings.health_refresh_seconds * 1000),
        html.Div(id=ids.HEALTH_STRIP, className="mb-3"),
        html.Div(id=ids.OVERVIEW_CARDS_NOTE),
        dbc.Row(id=ids.OVERVIEW_CARDS, className="g-3 mb-2"),
        html.H5("CRM sync status", className="mt-2"),
        html.Div(id=ids.CRM_STATUS_NOTE),
        dcc.Store(id=ids.CRM_STATUS_DATA, data=[]),
        dcc.Store(id=ids.CRM_STATUS_EXPANDED, data=[], storage_type="session"),
        fit_to_phones(crm_status_grid(settings.display_timezone), PHONE_HIDES_CRM),
        row_detail(ids.CRM_STATUS_GRID, skip=["name"]),
        html.H5("Recent activity", className="mt-4"),
        html.Div(id=ids.RECENT_ACTIVITY_NOTE),
        fit_to_phones(recent_activity_grid(settings.display_timezone), PHONE_HIDES_RECENT),
        row_detail(ids.RECENT_ACTIVITY_GRID, skip=["id"]),
    ])


TIGHTEST_COLOURS = {"ok": "success", "warning": "warning", "critical": "danger", "unknown": "secondary"}


def overview_cards(overview: dict, tightest: dict | None, now: datetime | None = None) -> list[dbc.Col]:
    """The cards; with ``now`` (when the numbers were computed) each opens the runs it counts."""
    links = card_links(now) if now is not None else {}
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
    stats = payloads.stats(engine, now)  # maybe shared: its links use the moment it was computed at
    counted_at = datetime.fromisoformat(stats["timestamp"].replace("Z", "+00:00"))
    return overview_cards(stats["overview"],
                          crm_api_usage.tightest(crm_api_usage.rate_limit_list(engine, 1, now)), counted_at)


@refresh_callback(
    REFRESH, [Output(ids.OVERVIEW_CARDS, "children"), Output(ids.CRM_STATUS_DATA, "data"),
              Output(ids.RECENT_ACTIVITY_GRID, "rowData"), Output(ids.OVERVIEW_CARDS_NOTE, "children"),
              Output(ids.CRM_STATUS_NOTE, "children"), Output(ids.RECENT_ACTIVITY_NOTE, "children")],
    what="overview",
)
def refresh_overview(now: datetime, previous: dict | None) -> Refresh:
    """Each panel loads on its own: one that fails keeps its numbers and says why; when every
    panel fails (the database is down) the banner says so instead."""
    engine = runtime.engine()
    cards, cards_error = panel_note.load(CARDS, lambda: _cards(engine, now))
    crms, crms_error = panel_note.load(CRMS, lambda: payloads.crm_statuses(engine, now)["crms"])
    recent, recent_error = panel_note.load(RECENT, lambda: payloads.recent(engine, RECENT_RUNS, now)["syncs"])
    errors = {CARDS: cards_error, CRMS: crms_error, RECENT: recent_error}
    loaded = panel_note.loaded_before(previous)
    if all(errors.values()):
        return Refresh((no_update,) * 3 + (None,) * 3,
                       panel_note.remember(failed(now, previous, cards_error), loaded, errors))
    return Refresh((
        no_update if cards_error else cards,
        no_update if crms_error else crms,
        no_update if recent_error else recent,
        *(panel_note.note(panel, error, loaded) for panel, error in errors.items()),
    ), panel_note.remember(refreshed(now), loaded, errors))


@callback(Output(ids.CRM_STATUS_GRID, "rowData"), Input(ids.CRM_STATUS_DATA, "data"),
          Input(ids.CRM_STATUS_EXPANDED, "data"))
def draw_crm_rows(crms: list[dict] | None, expanded: list[str] | None) -> list[dict]:
    return grid_rows(crms or [], expanded)


@callback(Output(ids.CRM_STATUS_EXPANDED, "data"), Input(ids.CRM_STATUS_GRID, "cellClicked"),
          State(ids.CRM_STATUS_EXPANDED, "data"), State(ids.CRM_STATUS_DATA, "data"), prevent_initial_call=True)
def open_or_close_crm(clicked: dict | None, expanded: list[str] | None, crms: list[dict] | None) -> list[str]:
    """A click on a CRM that groups several sync types shows or hides them."""
    return toggled(expanded, clicked, crms or [])


@callback(Output(ids.HEALTH_STRIP, "children"), Input(ids.HEALTH_STRIP_INTERVAL, "n_intervals"))
def refresh_health_strip(_ticks):
    """On its own interval, so a slow or absent service never holds the numbers above back."""
    return health_strip.strip(disclosure.shown_health(health.system_health(runtime.settings(), runtime.engine())))

register_row_detail(ids.CRM_STATUS_GRID)
register_row_detail(ids.RECENT_ACTIVITY_GRID)
