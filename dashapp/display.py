"""How values read on screen and in JSON: CRM display names, status colours, UTC ISO times, a
time in the viewer's zone."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

CRM_NAMES = {
    "hubspot": "HubSpot",
    "callrail": "CallRail",
    "genius": "Genius",
    "salesrabbit": "SalesRabbit",
    "arrivy": "Arrivy",
    "five9": "Five9",
    "marketsharp": "MarketSharp",
    "leadconduit": "LeadConduit",
    "salespro": "SalesPro",
    "gsheet": "Google Sheets",
}


def crm_name(crm_source: str) -> str:
    """``hubspot`` -> ``HubSpot``; any other source exactly as stored (``new_crm``, ``ev"il``,
    ``  spaced  ``): never re-cased, trimmed or with characters replaced. Whoever puts it in
    markup (HTML, Plotly, Slack, CSV) escapes it there."""
    return CRM_NAMES.get(crm_source, crm_source)


def iso_utc(value: object) -> str | None:
    """An ISO 8601 UTC time with a trailing Z, or None for a missing time."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    moment = pd.Timestamp(value)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_utc_all(values: pd.Series) -> list[str | None]:
    """``iso_utc`` of every value at once (a naive value is UTC): for series of thousands."""
    moments = pd.to_datetime(values, utc=True)
    return [None if pd.isna(m) else t for m, t in zip(moments, moments.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                       strict=True)]


def local_clock(value: object, zone: str | None, seconds: bool = False) -> str:
    """A time as the viewer reads it: ``2026-11-23 14:05 PST`` (``14:05:09 PST`` with ``seconds``)
    in ``zone`` (an IANA name; UTC when missing or unknown), or "" for a missing time."""
    moment = iso_utc(value)
    if moment is None:
        return ""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    shape = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(tz).strftime(shape)


def zone_name(zone: str | None, at: datetime | None = None) -> str:
    """The short name of ``zone`` at ``at`` (now): ``UTC``, ``CET``, ``EST``; an unknown zone is UTC."""
    if not zone or zone in ("UTC", "Etc/UTC"):
        return "UTC"
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return (at or datetime.now(tz)).astimezone(tz).strftime("%Z") or zone


def percent(value: float) -> str:
    """``93.75`` -> ``93.75%``."""
    return f"{value:.2f}%"


def count(value: object) -> int:
    """A record count for display and JSON: NULL (old rows) counts as 0."""
    if value is None:
        return 0
    try:
        return 0 if math.isnan(float(value)) else int(value)
    except (TypeError, ValueError):
        return 0


def seconds(value: object) -> float | None:
    if value is None or pd.isna(value):
        return None
    return round(float(value), 3)


def text(value: object) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
