"""How requests arrive and responses leave the app: which proxy headers count (only from
FORWARDED_ALLOW_IPS, ``trusted_proxy``), compression settings, and long-cache headers on
fingerprinted assets."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request

from dashapp.auth import users as auth
from dashapp.config import Settings
from dashapp.web.trusted_proxy import TrustedProxy

YEAR = 365 * 24 * 3600


def configure(server: Flask, settings: Settings, current: Callable[[], Settings] | None = None) -> None:
    """``current`` gives the settings of each request (the running app's, which a test may
    re-point); without it, ``settings`` hold for good."""
    current = current or (lambda: settings)
    # Streamed responses (the history export) stay uncompressed: compressing them would hold
    # chunks back, and a client that leaves must still stop the export at once.
    server.config.update(COMPRESS_STREAMS=False, COMPRESS_MIN_SIZE=500)
    # Always installed: it removes AUTH_PROXY_HEADER from peers that are not trusted proxies and
    # applies X-Forwarded-* (BEHIND_PROXY) from those that are.
    server.wsgi_app = TrustedProxy(server.wsgi_app, current)  # type: ignore[method-assign]

    @server.after_request
    def _cache_headers(response):
        # Dash fingerprints /assets URLs with ?m=<mtime> (and component suites with a version in
        # the name): a changed file gets a new URL, so browsers may keep these for a year.
        if request.path.startswith("/assets/") and request.args.get("m"):
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        return response

    @server.after_request
    def _note_proxy_user(response):
        # The access log names the user a request was identified as; a proxy's user costs no
        # lookup, so every request from the proxy carries it (a session's user is noted where
        # the request looks it up: pages, actions, the audit log).
        if auth.USER_KEY not in request.environ:
            auth.proxy_user(current())
        return response
