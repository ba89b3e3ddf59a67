"""Builds the one Dash app of the process: pages, navbar, assets and the JSON routes."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Dash, dcc, html
from sqlalchemy import Engine

from dashapp import runtime
from dashapp.auth import users as auth
from dashapp.config import PROJECT_ROOT, Settings
from dashapp.web import auth_routes, http_errors, ids, request_guard, security_headers, serving, url_prefix
from dashapp.web.api import metrics
from dashapp.web.components.demo_banner import demo_banner
from dashapp.web.components.navbar import navbar

_app: Dash | None = None


def build_app(settings: Settings, engine: Engine) -> Dash:
    """The Dash app, serving ``engine``'s data. Dash keeps page callbacks globally, so a process
    has one app: a second call re-points that app at new settings and a new engine."""
    global _app
    runtime.current.settings = settings
    runtime.current.engine = engine
    if _app is not None:
        url_prefix.apply(_app, settings)
        return _app
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(PROJECT_ROOT / "assets"),
        title="Sync Monitor",
        update_title=None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        compress=True,  # gzip/brotli for pages, callbacks and JSON (flask-compress)
        **url_prefix.dash_prefixes(settings.url_prefix),
    )
    serving.configure(app.server, settings, runtime.settings)
    request_guard.configure(app.server, settings)
    security_headers.configure(app)
    from dashapp.web import routes  # here: the pages' modules are imported after the Dash app exists

    routes.register_pages()

    app.layout = _layout
    routes.register_routes(app.server)
    metrics.register(app.server)
    http_errors.register(app.server)
    auth_routes.configure(app.server, settings)
    url_prefix.apply(app, settings)
    url_prefix.install(app.server, runtime.settings)  # outermost: every request passes it first
    _app = app
    return app


def _layout() -> html.Div:
    current = runtime.settings()
    return html.Div([
        dcc.Store(id=ids.APP_CONFIG, data={
            "refresh_seconds": current.refresh_seconds,
            "display_timezone": current.display_timezone,
        }),
        dcc.Store(id=ids.VIEWER_TIMEZONE),
        dcc.Interval(id=ids.CLOCK_TICK, interval=1000),
        navbar(current, auth.current_user(current)),
        demo_banner(),
        dbc.Container(dash.page_container, fluid=True, className="py-3"),
    ])
