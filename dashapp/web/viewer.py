"""The viewer's clock on the server: the zone the navbar's Local/UTC switch picked, which the
browser keeps in the ``sm-zone`` cookie (assets/sync-monitor.js) so that a page's first render
(a run opened from a link, a custom range in the URL) shows times in it too."""

from __future__ import annotations

from datetime import UTC, datetime
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


def local_input(moment: datetime | None, zone: object) -> str:
    """A UTC time as a datetime-local input shows it in ``zone`` (UTC when it is not one):
    ``2026-11-20T11:00``; empty for none."""
    return moment.astimezone(ZoneInfo(valid_zone(zone) or "UTC")).strftime("%Y-%m-%dT%H:%M") if moment else ""


def from_local_input(value: object, zone: object) -> datetime:
    """The aware UTC moment a datetime-local value (``2026-11-20T11:00``) names in ``zone`` (UTC
    when it is not one; an offset in the value wins); a ValueError saying why when it is none."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("choose a date and time first")
    try:
        local = datetime.fromisoformat(value.strip()[:19])
        return (local if local.tzinfo else local.replace(tzinfo=ZoneInfo(valid_zone(zone) or "UTC"))).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{value[:40]!r} is not a date and time") from None
