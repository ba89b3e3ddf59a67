"""How responses leave the app: compression settings, long-cache headers on fingerprinted
assets, and the client address behind a reverse proxy (BEHIND_PROXY)."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from dashapp.config import Settings

YEAR = 365 * 24 * 3600


def configure(server: Flask, settings: Settings) -> None:
    # Streamed responses (the history export) stay uncompressed: compressing them would hold
    # chunks back, and a client that leaves must still stop the export at once.
    server.config.update(COMPRESS_STREAMS=False, COMPRESS_MIN_SIZE=500)
    if settings.behind_proxy:  # one proxy in front: trust its X-Forwarded-For/-Proto/-Host
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    @server.after_request
    def _cache_headers(response):
        # Dash fingerprints /assets URLs with ?m=<mtime> (and component suites with a version in
        # the name): a changed file gets a new URL, so browsers may keep these for a year.
        if request.path.startswith("/assets/") and request.args.get("m"):
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        return response
