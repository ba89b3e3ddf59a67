"""Security headers on every response.

- ``Content-Security-Policy``: scripts only from this app (``'self'``) plus Dash's own inline
  scripts by their SHA-256 hashes (``Dash.csp_hashes()``: the renderer's start line and the
  clientside callbacks given as strings), never ``'unsafe-inline'`` or ``'unsafe-eval'`` for
  scripts. Dash's config block is ``type="application/json"``, which is data, not script, so it
  needs no hash. Styles allow ``'unsafe-inline'``: React, Plotly and AG Grid set ``style``
  attributes and inject ``<style>`` elements at run time, which no hash can cover; a style cannot
  run code. ``frame-ancestors 'none'`` (no page of another site may frame this one), ``object-src
  'none'``, ``base-uri 'self'``, ``form-action 'self'``.
- ``X-Frame-Options: DENY`` for browsers that predate frame-ancestors,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
- ``Strict-Transport-Security`` when SESSION_COOKIE_SECURE is on (the app is served over HTTPS).
"""

from __future__ import annotations

from dash import Dash
from flask import Response

from dashapp import runtime

HSTS = "max-age=31536000; includeSubDomains"


def policy(script_hashes: list[str]) -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' " + " ".join(script_hashes),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def configure(app: Dash) -> None:
    cached: dict[tuple[str, ...], str] = {}

    def csp() -> str:
        hashes = tuple(app.csp_hashes())  # recomputed per response: Dash adds inline scripts lazily
        if hashes not in cached:
            cached.clear()
            cached[hashes] = policy(list(hashes))
        return cached[hashes]

    @app.server.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = csp()
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        if runtime.settings().session_cookie_secure:
            headers["Strict-Transport-Security"] = HSTS
        return response
