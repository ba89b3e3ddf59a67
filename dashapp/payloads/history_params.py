"""The history's query-string parameters, shared by the page URL, /export and /api/history.

    range=24h|7d|30d|all      (default 7d; ignored when start or end is given)
    start, end                ISO 8601 (a time without an offset is UTC); start_time in [start, end)
    crm_source, status, sync_type   repeated or comma-separated
    q                         text the error message contains
    sort                      column:asc|desc, comma-separated (default start_time:desc)
    filter                    AG Grid's column filter model, as JSON
    ended_after               ISO 8601: only runs that ended at or after it (the overview cards' 24 h)
    id                        (page only) one run to open in the detail panel

``parse`` raises BadParameter naming the parameter; the export and API answer it with a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlencode

from dashapp.errors import BadParameter
from queries.history import HistoryFilter, parse_filter_model, parse_sort, parse_time

# The one list of age and range choices: the history's ``range``, the failed operations' and the
# alerts' ``age``.
AGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}
RANGES = AGES  # the history's ``range`` takes the same choices as the consoles' ``age``
DEFAULT_RANGE = "7d"


MAX_VALUES = 500  # values of one list parameter (CRMs, statuses, ...): more is a 400, before any work
MAX_VALUE_CHARS = 50_000  # their length together


def values(args: Mapping[str, list[str]], name: str) -> tuple[str, ...]:
    """Repeated and comma-separated values, blanks dropped, order kept, duplicates removed (in
    linear time). More than MAX_VALUES raw values, or MAX_VALUE_CHARS together, is a BadParameter
    before they are split."""
    raw = _checked(args, name)
    if len(raw) > MAX_VALUES or sum(len(value) for value in raw) > MAX_VALUE_CHARS:
        raise BadParameter(name, f"at most {MAX_VALUES} values of {MAX_VALUE_CHARS:,} characters in all")
    found = dict.fromkeys(item.strip() for value in raw for item in value.split(","))
    found.pop("", None)
    if len(found) > MAX_VALUES:
        raise BadParameter(name, f"at most {MAX_VALUES} values of {MAX_VALUE_CHARS:,} characters in all")
    return tuple(found)


def _checked(args: Mapping[str, list[str]], name: str) -> list[str]:
    """The raw values of ``name``; a NUL character (which no text column can hold) is a BadParameter."""
    raw = args.get(name, [])
    if not isinstance(raw, list) or not all(isinstance(value, str) for value in raw):
        raise BadParameter(name, "must be text or a list of text")
    if any("\x00" in value for value in raw):
        raise BadParameter(name, "contains a NUL character")
    return raw


def first(args: Mapping[str, list[str]], name: str) -> str | None:
    items = [v for v in _checked(args, name) if v.strip()]
    return items[0].strip() if items else None


def parse(args: Mapping[str, list[str]], now: datetime, zone: str = "UTC") -> HistoryFilter:
    """A HistoryFilter from query-string arguments (each name -> its list of values)."""
    start = parse_time(first(args, "start"), "start") if first(args, "start") else None  # FilterError is a
    end = parse_time(first(args, "end"), "end") if first(args, "end") else None  # BadParameter naming it
    ended_after = parse_time(first(args, "ended_after"), "ended_after") if first(args, "ended_after") else None
    if start and end and end <= start:
        raise BadParameter("end", "must be after start")
    chosen = first(args, "range") or DEFAULT_RANGE
    if chosen not in RANGES:
        raise BadParameter("range", f"{chosen[:20]!r} is not one of {', '.join(RANGES)}")
    if start is None and end is None and RANGES[chosen] is not None:
        start = now - RANGES[chosen]
    return HistoryFilter(
        start=start, end=end,
        crm_sources=values(args, "crm_source"), statuses=values(args, "status"),
        sync_types=values(args, "sync_type"), q=first(args, "q"),
        columns=parse_filter_model(first(args, "filter")), sort=parse_sort(first(args, "sort")), zone=zone,
        ended_after=ended_after,
    )


def to_search(state: Mapping[str, object]) -> str:
    """The query string for a page state; empty values are left out, lists joined by commas."""
    pairs = []
    for name, value in state.items():
        if value in (None, "", [], (), {}):
            continue
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        pairs.append((name, str(value)))
    return ("?" + urlencode(pairs)) if pairs else ""


def export_name(f: HistoryFilter, now: datetime, extension: str) -> str:
    """``sync-history-<from>-<to>.<ext>``, dates in UTC."""
    start = f.start.strftime("%Y%m%d") if f.start else "all"
    end = (f.end or now).strftime("%Y%m%d")
    return f"sync-history-{start}-{end}.{extension}"
