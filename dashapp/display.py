"""How values read on screen and in JSON: CRM display names, status colours, UTC ISO times, a
time in the viewer's zone."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from queries.time_bounds import INFINITY, MINUS_INFINITY, infinity_name

INFINITE_TEXT = {"infinity": INFINITY, "-infinity": MINUS_INFINITY}

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
    """An ISO 8601 UTC time with a trailing Z and a four-digit year (``0001-01-01T00:00:00Z``),
    "infinity" / "-infinity" for PostgreSQL's infinite times, or None for a missing time."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    moment = _utc(value)
    return infinity_name(moment) or moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _utc(value: object) -> datetime:
    """``value`` as an aware UTC datetime (naive values are UTC); ±infinity kept."""
    if isinstance(value, str) and value in INFINITE_TEXT:  # an iso_utc answer read again
        return INFINITE_TEXT[value]
    moment = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    if not isinstance(moment, datetime):
        moment = pd.Timestamp(value).to_pydatetime()  # type: ignore[arg-type]
    if moment.tzinfo is None or infinity_name(moment) is not None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def from_iso(text: str | None) -> datetime | None:
    """An ``iso_utc`` answer read back as an aware UTC datetime ("infinity" as INFINITY); None for None."""
    return None if text is None else _utc(text)


def finite(value: object) -> bool:
    """Whether ``value`` is a time that is there and not ±infinity (a duration can be taken from it)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return False
    return infinity_name(_utc(value)) is None


def iso_utc_all(values: pd.Series) -> list[str | None]:
    """``iso_utc`` of every value at once (a naive value is UTC): for series of thousands."""
    moments = pd.to_datetime(values, utc=True)
    if moments.empty or moments.dropna().between(SAFE_FROM, SAFE_UNTIL).all():
        texts = moments.dt.strftime("%Y-%m-%dT%H:%M:%SZ")  # four-digit years here: fast path
        return [None if pd.isna(m) else t for m, t in zip(moments, texts, strict=True)]
    return [iso_utc(m) for m in moments]


SAFE_FROM, SAFE_UNTIL = pd.Timestamp("1000-01-01", tz="UTC"), pd.Timestamp("9999-12-30", tz="UTC")


def local_clock(value: object, zone: str | None, seconds: bool = False) -> str:
    """A time as the viewer reads it: ``2026-11-23 14:05 PST`` (``14:05:09 PST`` with ``seconds``)
    in ``zone`` (an IANA name; UTC when missing or unknown), or "" for a missing time; "infinity"
    / "-infinity" as such; a time the zone would put outside years 1..9999 in UTC."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    moment = _utc(value)
    if (name := infinity_name(moment)) is not None:
        return name
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    try:
        local = moment.astimezone(tz)
    except (OverflowError, ValueError):  # year 1 east of UTC, 9999 west of it
        local = moment
    clock = local.isoformat(sep=" ", timespec="seconds" if seconds else "minutes")[:19 if seconds else 16]
    return f"{clock} {local.strftime('%Z')}"


def zone_name(zone: str | None, at: datetime | None = None) -> str:
    """The short name of ``zone`` at ``at`` (now): ``UTC``, ``CET``, ``EST``; an unknown zone is UTC."""
    if not zone or zone in ("UTC", "Etc/UTC"):
        return "UTC"
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return (at or datetime.now(tz)).astimezone(tz).strftime("%Z") or zone


def percent(value: float | None) -> str:
    """``93.75`` -> ``93.75%``; None (nothing to divide: no finished run) -> ``—``."""
    return "—" if value is None else f"{value:.2f}%"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 matching run``, ``0 runs``, ``1,250 runs``: the count and the word it takes."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def sentence(text: str) -> str:
    """``text`` ending in one full stop: ``"… already exists."`` stays as it is, ``"Timeout"`` gains one."""
    stripped = text.rstrip()
    return stripped if stripped.endswith((".", "!", "?", "…")) else stripped + "."


def span(seconds: float | None) -> str:
    """How long, to the minute past an hour: ``42 s``, ``35 min``, ``2 h 5 min``, ``3 d 4 h`` (the
    browser's ``span`` in assets/sync-monitor.js reads the same); None -> ``—``."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if d:
        return f"{d} d" + (f" {h} h" if h else "")
    if h:
        return f"{h} h" + (f" {m} min" if m else "")
    return f"{m} min"


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
