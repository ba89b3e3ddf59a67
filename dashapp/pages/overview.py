"""Overview (``/``): five cards, CRM sync status and recent activity, refreshed on an interval.

Numbers: ``dashapp.payloads.stats`` -> ``queries.overview.overview_counts``; CRM rows:
``dashapp.payloads.crm_statuses`` -> ``queries.crm_status.crm_status``; recent activity:
``dashapp.payloads.recent`` -> ``queries.recent_syncs.recent_syncs``. The same payloads are
served at /api/stats, /api/crm-status and /api/recent-syncs.
"""

from __future__ import annotations

import logging

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from dashapp import api_usage_payloads, display, health, ids, payloads, runtime
from dashapp.components import health_strip
from dashapp.components.crm_status_grid import crm_status_grid
from dashapp.components.recent_activity import recent_activity_grid
from dashapp.components.refresh_bar import RefreshIds, failed, refresh_bar, refreshed, register_clientside
from dashapp.components.stat_cards import Stat, stat_cards
from dashapp.http_errors import error_line
from queries._sql import utc_now

log = logging.getLogger(__name__)
RECENT_RUNS = 20

REFRESH = RefreshIds(
    interval=ids.OVERVIEW_INTERVAL,
    button=ids.OVERVIEW_REFRESH_BUTTON,
    state=ids.OVERVIEW_REFRESH_STATE,
    received=ids.OVERVIEW_REFRESH_RECEIVED,
    text=ids.OVERVIEW_REFRESH_TEXT,
    banner=ids.OVERVIEW_ERROR_BANNER,
)


def layout(**_query: str) -> html.Div:
    settings = runtime.settings()
    return html.Div([
        dbc.Row([
            dbc.Col(html.H4("Overview", className="mb-0"), xs=12, sm=6),
            dbc.Col(refresh_bar(REFRESH, settings.refresh_seconds), xs=12, sm=6),
        ], className="align-items-center mb-3 g-2"),
        dcc.Interval(id=ids.HEALTH_STRIP_INTERVAL, interval=settings.health_refresh_seconds * 1000),
        html.Div(id=ids.HEALTH_STRIP, className="mb-3"),
        dbc.Row(id=ids.OVERVIEW_CARDS, className="g-3 mb-2"),
        html.H5("CRM sync status", className="mt-2"),
        crm_status_grid(settings.display_timezone),
        html.H5("Recent activity", className="mt-4"),
        recent_activity_grid(settings.display_timezone),
    ])


TIGHTEST_COLOURS = {"ok": "success", "warning": "warning", "critical": "danger", "unknown": "secondary"}


def overview_cards(overview: dict, tightest: dict | None) -> list[dbc.Col]:
    limit = Stat("tightest-limit", "Tightest rate limit", "—", "secondary", "no rate-limit headers in the last hour") \
        if tightest is None else Stat("tightest-limit", "Tightest rate limit", f"{tightest['percent_used']:.0f}%",
                                      TIGHTEST_COLOURS[tightest["level"]], f"{tightest['name']} {tightest['endpoint']}")
    return stat_cards([
        Stat("active", "Active", f"{overview['active_syncs']:,}", "primary"),
        Stat("completed", "Completed 24h", f"{overview['completed_today']:,}", "success"),
        Stat("failed", "Failed 24h", f"{overview['failed_today']:,}", "danger"),
        Stat("partial", "Partial 24h", f"{overview['partial_today']:,}", "warning"),
        Stat("success-rate", "Success rate 24h", display.percent(overview["success_rate"]), "dark"),
        limit,
    ])


@callback(
    Output(ids.OVERVIEW_CARDS, "children"),
    Output(ids.CRM_STATUS_GRID, "rowData"),
    Output(ids.RECENT_ACTIVITY_GRID, "rowData"),
    Output(REFRESH.state, "data"),
    Input(REFRESH.interval, "n_intervals"),
    Input(REFRESH.button, "n_clicks"),
    State(REFRESH.state, "data"),
)
def refresh_overview(_ticks: int | None, _clicks: int | None, previous: dict | None):
    now = utc_now()
    engine = runtime.engine()
    try:
        stats = payloads.stats(engine, now)
        crms = payloads.crm_statuses(engine, now)
        recent = payloads.recent(engine, RECENT_RUNS, now)
        tightest = api_usage_payloads.tightest(api_usage_payloads.rate_limit_list(engine, 1, now))
    except SQLAlchemyError as exc:
        log.warning("overview refresh failed: %s", error_line(exc))
        return no_update, no_update, no_update, failed(now, previous, error_line(exc))
    return overview_cards(stats["overview"], tightest), crms["crms"], recent["syncs"], refreshed(now)


@callback(Output(ids.HEALTH_STRIP, "children"), Input(ids.HEALTH_STRIP_INTERVAL, "n_intervals"))
def refresh_health_strip(_ticks):
    """On its own interval, so a slow or absent service never holds the numbers above back."""
    return health_strip.strip(health.system_health(runtime.settings(), runtime.engine()))


register_clientside(REFRESH)
dash.register_page(
    __name__, path="/", name="Overview", title="Sync Monitor · Overview", order=0, layout=layout
)
