"""Every HTTP route of the app in one table, and the code that registers them from it: the pages
(Dash), the JSON routes, the export, sign-in, /metrics and the probes. The navbar shows the pages
in the table's order. The README's route list is checked against this table (tests/test_layout.py).

A new page: its module in ``pages/`` (layout and callbacks), one ``Page`` row here. A new JSON
route: its view in ``api/``, one ``Route`` row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import dash
from flask import Flask

from dashapp.web import auth_routes
from dashapp.web.api import alerts as alert_api
from dashapp.web.api import crm_api_usage as crm_api_usage_api
from dashapp.web.api import digest as digest_api
from dashapp.web.api import errors as errors_api
from dashapp.web.api import export, metrics
from dashapp.web.api import failed as failed_api
from dashapp.web.api import health as health_api
from dashapp.web.api import overview as overview_api
from dashapp.web.api import performance as performance_api
from dashapp.web.api import runs as run_api
from dashapp.web.api import timeline as timeline_api
from dashapp.web.api import timeline_lanes as timeline_lanes_api
from dashapp.web.pages import alerts as alerts_page
from dashapp.web.pages import crm_api_usage as crm_api_usage_page
from dashapp.web.pages import errors as errors_page
from dashapp.web.pages import failed as failed_page
from dashapp.web.pages import health as health_page
from dashapp.web.pages import history as history_page
from dashapp.web.pages import overview as overview_page
from dashapp.web.pages import performance as performance_page
from dashapp.web.pages import runs as runs_page
from dashapp.web.pages import sign_in as sign_in_page
from dashapp.web.pages import timeline as timeline_page


@dataclass(frozen=True)
class Page:
    """A Dash page: ``module`` holds its ``layout`` and callbacks. ``<name>`` in a path is a variable."""

    path: str
    module: ModuleType
    name: str
    title: str
    in_navbar: bool = True


@dataclass(frozen=True)
class Route:
    """A Flask route (Flask's rule syntax in ``path``)."""

    method: str
    path: str
    view: Callable


PAGES: tuple[Page, ...] = (
    Page("/", overview_page, "Overview", "Overview"),
    Page("/timeline", timeline_page, "Timeline", "Timeline"),
    Page("/history", history_page, "History", "History"),
    Page("/performance", performance_page, "Performance", "Performance"),
    Page("/errors", errors_page, "Errors", "Errors"),
    Page("/api-usage", crm_api_usage_page, "API usage", "API usage"),
    Page("/failed", failed_page, "Failed ops", "Failed operations"),
    Page("/alerts", alerts_page, "Alerts", "Alerts"),
    Page("/health", health_page, "Health", "Health"),
    Page("/runs/<run_id>", runs_page, "Run", "Run", in_navbar=False),
    Page("/sign-in", sign_in_page, "Sign in", "Sign in", in_navbar=False),
)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/stats", overview_api.stats),
    Route("GET", "/api/crm-status", overview_api.crm_status),
    Route("GET", "/api/recent-syncs", overview_api.recent_syncs),
    Route("GET", "/api/performance-charts", performance_api.performance_charts),
    Route("GET", "/api/errors", errors_api.errors),
    Route("GET", "/api/api-stats", crm_api_usage_api.api_stats),
    Route("GET", "/api/rate-limits", crm_api_usage_api.rate_limits),
    Route("GET", "/api/circuit-breakers", crm_api_usage_api.circuit_breakers),
    Route("GET", "/api/system-health", health_api.system_health),
    Route("GET", "/api/failed-operations", failed_api.list_operations),
    Route("GET", "/api/failed-operations/<int:sync_id>", failed_api.one_operation),
    Route("POST", "/api/failed-operations/<int:sync_id>/retry", failed_api.retry_one),
    Route("POST", "/api/failed-operations/retry", failed_api.retry_bulk),
    Route("GET", "/api/audit", failed_api.audit_rows),
    Route("GET", "/api/runs/<raw_id>/error", run_api.run_error),
    Route("GET", "/api/runs/<path:raw_id>", run_api.one_run),
    Route("GET", "/api/alerts", alert_api.list_alerts),
    Route("POST", "/api/alerts/<int:alert_id>/<action>", alert_api.act),
    Route("GET", "/api/timeline", timeline_api.timeline),
    Route("GET", "/api/digest", digest_api.digest),
    Route("GET", "/api/timeline/lanes", timeline_lanes_api.timeline_lanes),
    Route("GET", "/export/sync-history.csv", export.sync_history_export),
    Route("POST", "/auth/sign-in", auth_routes.sign_in),
    Route("POST", "/auth/sign-out", auth_routes.sign_out),
    Route("GET", "/metrics", metrics.metrics),
    Route("GET", "/healthz", health_api.healthz),
    Route("GET", "/readyz", health_api.readyz),
)


def register_pages() -> None:
    """Register every page with Dash (after the Dash app exists), in the navbar's order."""
    for order, page in enumerate(PAGES):
        where = {"path_template": page.path} if "<" in page.path else {"path": page.path}
        dash.register_page(page.module.__name__, **where, name=page.name, title=f"Sync Monitor · {page.title}",
                           order=order, in_navbar=page.in_navbar, layout=page.module.layout)


def register_routes(server: Flask) -> None:
    """Register every Flask route of the table."""
    for route in ROUTES:
        endpoint = f"{route.view.__module__.rsplit('.', 1)[-1]}.{route.view.__name__}"
        server.add_url_rule(route.path, endpoint=endpoint, view_func=route.view, methods=[route.method])
