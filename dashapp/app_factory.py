"""Builds the one Dash app of the process: pages, navbar, assets and the JSON routes."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Dash, dcc, html
from sqlalchemy import Engine

from dashapp import api, auth, auth_routes, ids, request_guard, runtime, security_headers, serving
from dashapp.components.demo_banner import demo_banner
from dashapp.components.navbar import navbar
from dashapp.config import PROJECT_ROOT, Settings

_app: Dash | None = None


def build_app(settings: Settings, engine: Engine) -> Dash:
    """The Dash app, serving ``engine``'s data. Dash keeps page callbacks globally, so a process
    has one app: a second call re-points that app at new settings and a new engine."""
    global _app
    runtime.current.settings = settings
    runtime.current.engine = engine
    if _app is not None:
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
    )
    serving.configure(app.server, settings)
    request_guard.configure(app.server, settings)
    security_headers.configure(app)
    from dashapp.pages import (  # noqa: F401  (register the pages and their callbacks)
        alerts,
        api_usage,
        errors,
        failed,
        health,
        history,
        overview,
        performance,
        run,
        sign_in,
    )

    app.layout = _layout
    api.register(app.server)
    auth_routes.configure(app.server, settings)
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
