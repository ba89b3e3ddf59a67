"""Every response carries the security headers; the CSP allows scripts from this app and
Dash's inline scripts by hash only (no 'unsafe-inline' or 'unsafe-eval' for scripts), and no page
of another site may frame this one. HSTS only when the cookie is HTTPS-only."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

PATHS = ["/", "/failed", "/history", "/api/stats", "/healthz", "/sign-in", "/api/audit", "/no-such-page",
         "/export/sync-history.csv?range=24h"]


def directives(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", PATHS)
def test_every_response_has_the_headers(client, path):
    answer = client.get(path)
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in answer.headers  # SESSION_COOKIE_SECURE is off
    csp = directives(answer.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    scripts = csp["script-src"]
    assert scripts[0] == "'self'" and all(s.startswith("'sha256-") for s in scripts[1:])


def test_each_inline_script_of_the_page_is_allowed_by_its_hash(client):
    answer = client.get("/failed")
    page = answer.get_data(as_text=True)
    allowed = set(directives(answer.headers["Content-Security-Policy"])["script-src"])
    page = re.sub(r"<!--.*?-->", "", page, flags=re.S)  # the IE-only conditional comment
    inline = [m.group(2) for m in re.finditer(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", page, re.S)
              if "application/json" not in m.group(1)]
    assert len(inline) >= 2  # the renderer's start and the clientside callbacks
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed, script[:80]


def test_hsts_when_the_cookie_is_https_only(client, use_engine, pg_engine, app_env):
    use_engine(pg_engine, **app_env, SESSION_COOKIE_SECURE="true")
    answer = client.get("/api/stats")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
