"""Serving under a path (URL_PREFIX, e.g. ``/ingestion/monitoring/``) behind a proxy that passes the
full URI (nginx: ``location /ingestion/monitoring/ { proxy_pass http://sync_monitor; }``).

- ``UnderPrefix``, a WSGI middleware in front of everything, moves the prefix from ``PATH_INFO`` to
  ``SCRIPT_NAME``: the app's routes, ``request.path`` and every check on it stay prefix-free. A
  request outside the prefix is a 404; the prefix without its trailing slash redirects to it.
- ``apply`` points Dash at the prefix (``requests_pathname_prefix``: the page's scripts, assets and
  callbacks; the pages' ``relative_path``), and the session cookie's path at it.
- Links the app writes itself go through ``Settings.href`` (``dashapp.payloads.paths.href``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import dash
from dash import Dash
from flask import Flask

from dashapp.config import Settings

DASH_PREFIXES = ["routes_pathname_prefix", "requests_pathname_prefix"]


class UnderPrefix:
    """The middleware; ``settings`` gives the settings of each request (the running app's)."""

    def __init__(self, app: Callable, settings: Callable[[], Settings]) -> None:
        self.app = app
        self.settings = settings

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        prefix = self.settings().url_prefix
        if prefix == "/":
            return self.app(environ, start_response)
        root = prefix[:-1]
        full = (environ.get("SCRIPT_NAME") or "") + (environ.get("PATH_INFO") or "")
        if full == root:
            query = environ.get("QUERY_STRING") or ""
            location = prefix + ("?" + query if query else "")
            return _answer(start_response, "308 Permanent Redirect", [("Location", location)])
        if not full.startswith(prefix):
            return _answer(start_response, "404 Not Found", [], b"Not Found\n")
        environ["SCRIPT_NAME"] = root
        environ["PATH_INFO"] = full[len(root):]
        return self.app(environ, start_response)


def _answer(start_response: Callable, status: str, headers: list[tuple[str, str]], body: bytes = b"") -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store"), *headers])
    return [body]


def install(server: Flask, settings: Callable[[], Settings]) -> None:
    server.wsgi_app = UnderPrefix(server.wsgi_app, settings)  # type: ignore[method-assign]


def dash_prefixes(prefix: str) -> dict[str, str]:
    """The Dash constructor's path settings for ``prefix``: Flask routes stay at ``/`` (the
    middleware strips the prefix), the browser requests everything under it."""
    return {"routes_pathname_prefix": "/", "requests_pathname_prefix": prefix}


def apply(app: Dash, settings: Settings) -> None:
    """Point an existing Dash app (and its session cookie) at ``settings.url_prefix``: Dash keeps
    one app per process, and a test may rebuild it with another prefix."""
    config = app.config
    if config.requests_pathname_prefix != settings.url_prefix:
        config.unset_read_only(DASH_PREFIXES)
        config.update(dash_prefixes(settings.url_prefix))
        config.set_read_only(DASH_PREFIXES, "Read-only: set by dashapp.web.url_prefix.apply")
        for page in dash.page_registry.values():
            page["relative_path"] = app.get_relative_path(page["path"])
    app.server.config["SESSION_COOKIE_PATH"] = settings.url_prefix
