"""The viewer's clock on the server: the zone the navbar's Local/UTC switch picked, which the
browser keeps in the ``sm-zone`` cookie (assets/sync-monitor.js) so that a page's first render
(a run opened from a link, a custom range in the URL) shows times in it too."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import has_request_context, request

from dashapp import runtime

COOKIE = "sm-zone"


def valid_zone(name: object) -> str | None:
    """``name`` when it is an IANA zone this machine knows, else None."""
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def zone() -> str:
    """The viewer's zone: their cookie's, else DISPLAY_TIMEZONE, else UTC."""
    chosen = valid_zone(request.cookies.get(COOKIE)) if has_request_context() else None
    return chosen or runtime.settings().display_timezone or "UTC"
