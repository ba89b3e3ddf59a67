"""Query-string parameters, parsed once for every route and page: lists of values, whole numbers,
the one time window (``window``), and the history's filter.

A window is ``range`` everywhere:

    range=24h|7d|30d|90d|all   (a route's default when absent)
    start, end                 ISO 8601 (a time without an offset is UTC): [start, end), either open

The names routes used before (``age``, the same choices; ``days=N``; ``hours=N``) are read when
``range``, ``start`` and ``end`` are absent: deprecated, kept for one release.

The history's own parameters, shared by the page URL, the grid and /export/sync-history.csv
(csv, ndjson, xlsx):

    range=24h|7d|30d|all      (default 7d; ignored when start or end is given)
    start, end                ISO 8601 (a time without an offset is UTC); start_time in [start, end)
    crm_source, status, sync_type   repeated or comma-separated
    q                         text the error message contains
    sort                      column:asc|desc, comma-separated (default start_time:desc)
    filter                    AG Grid's column filter model, as JSON
    ended_after               ISO 8601: only runs that ended at or after it (the overview cards' 24 h)
    times=impossible          only runs at impossible times (a start before 2000 or after a day
                              from now, ±infinity included: /health's list); no range applies
    id                        (page only) one run to open in the detail panel

``parse_all`` reads every parameter on its own: a bad one is set aside as a BadParameter (the page
shows each as a chip, "ignored: status 'bogus'") and its default is used. ``parse`` is the same
parser, raising the first of them: the export and API answer it with a 400. A crm_source, status or
sync_type value must be one the table holds (``known_values``); a status class and its aliases
always count as known.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from dashapp.errors import BadParameter
from queries import impossible_times, outcomes
from queries._sql import Connectable
from queries.choices import distinct_values
from queries.history import HistoryFilter, parse_filter_model, parse_sort, parse_time

# The one list of window choices, for every route and page that takes a window.
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
          "90d": timedelta(days=90), "all": None}
AGES = RANGES  # deprecated name
DEFAULT_RANGE = "7d"
CUSTOM = "custom"  # the range control's value when start or end is given
WINDOW_PARAMETERS = ("range", "start", "end")
# deprecated window names: each is read only when range, start and end are all absent
LEGACY_UNITS = {"days": timedelta(days=1), "hours": timedelta(hours=1)}
MAX_LEGACY_SPAN = timedelta(days=3650)


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


PARAMETERS = ("range", "start", "end", "crm_source", "status", "sync_type", "q", "sort", "filter", "times")
TIMES_CHOICES = ("impossible",)
VALUE_LISTS = {"crm_source": "a CRM", "status": "a status", "sync_type": "a sync type"}


@dataclass
class Parsed:
    """What a query string asks for, with each bad parameter set aside."""
    selection: HistoryFilter
    ignored: list[BadParameter] = field(default_factory=list)
    range: str = DEFAULT_RANGE  # the range control's value: a RANGES key, or "custom"


def known_values(db: Connectable) -> dict[str, set[str]]:
    """The values a CRM, status or sync-type parameter may take: those in sync_history (by
    index skip scans), and for status also the classes and their aliases."""
    known = {column: set(distinct_values(db, column)) for column in VALUE_LISTS}
    known["status"] |= set(outcomes.CLASSES) | {raw for raw, _ in outcomes.aliases(db)}
    return known


def _time(args: Mapping[str, list[str]], name: str, ignored: list[BadParameter]) -> datetime | None:
    try:
        raw = first(args, name)
        return parse_time(raw, name) if raw else None
    except BadParameter as exc:  # FilterError is a BadParameter naming the parameter
        ignored.append(exc)
    return None


def _outside(args: Mapping[str, list[str]], now: datetime, ignored: list[BadParameter]) -> tuple | None:
    """``times=impossible``: the plausible start range at ``now``, whose outside is asked for."""
    try:
        chosen = first(args, "times")
    except BadParameter as exc:
        ignored.append(exc)
        return None
    if chosen is None:
        return None
    if chosen not in TIMES_CHOICES:
        ignored.append(BadParameter("times", f"{chosen[:20]!r} is not one of {', '.join(TIMES_CHOICES)}"))
        return None
    return impossible_times.bounds(now)


def _listed(args: Mapping[str, list[str]], name: str, known: Mapping[str, Collection[str]] | None,
            ignored: list[BadParameter]) -> tuple[str, ...]:
    try:
        found = values(args, name)
    except BadParameter as exc:
        ignored.append(exc)
        return ()
    if known is None or name not in known:
        return found
    for value in found:
        if value not in known[name]:
            ignored.append(BadParameter(name, f"{value[:40]!r} is not {VALUE_LISTS[name]} in sync_history"))
    return tuple(v for v in found if v in known[name])


def parse_all(args: Mapping[str, list[str]], now: datetime, zone: str = "UTC",
              known: Mapping[str, Collection[str]] | None = None) -> Parsed:
    """Every parameter read on its own; a bad one is named in ``ignored`` and its default used."""
    ignored: list[BadParameter] = []
    start, end = _time(args, "start", ignored), _time(args, "end", ignored)
    if start and end and end <= start:
        ignored.append(BadParameter("end", "must be after start"))
        end = None
    try:
        chosen = first(args, "range") or DEFAULT_RANGE
    except BadParameter as exc:
        ignored.append(exc)
        chosen = DEFAULT_RANGE
    if chosen not in RANGES:
        ignored.append(BadParameter("range", f"{chosen[:20]!r} is not one of {', '.join(RANGES)}"))
        chosen = DEFAULT_RANGE
    outside = _outside(args, now, ignored)
    if outside is not None and not args.get("range"):
        chosen = "all"  # impossible times are outside any recent range
    shown_range = "custom" if start or end else chosen
    if start is None and end is None and RANGES[chosen] is not None:
        start = now - RANGES[chosen]
    columns: dict = {}
    sort: tuple[tuple[str, str], ...] = ()
    for name in ("filter", "sort"):
        try:
            raw = first(args, name)
            if name == "filter":
                columns = parse_filter_model(raw)
            else:
                sort = parse_sort(raw)
        except BadParameter as exc:  # FilterError names "sort" or "filter" itself
            ignored.append(exc)
    try:
        q = first(args, "q")
    except BadParameter as exc:
        ignored.append(exc)
        q = None
    selection = HistoryFilter(
        start=start, end=end, crm_sources=_listed(args, "crm_source", known, ignored),
        statuses=_listed(args, "status", known, ignored), sync_types=_listed(args, "sync_type", known, ignored),
        q=q, columns=columns, sort=sort, zone=zone, ended_after=_time(args, "ended_after", ignored),
        outside=outside,
    )
    return Parsed(selection, ignored, shown_range)


def parse(args: Mapping[str, list[str]], now: datetime, zone: str = "UTC",
          known: Mapping[str, Collection[str]] | None = None) -> HistoryFilter:
    """A HistoryFilter from query-string arguments (each name -> its list of values); the first
    bad parameter raises BadParameter."""
    parsed = parse_all(args, now, zone, known)
    if parsed.ignored:
        raise parsed.ignored[0]
    return parsed.selection


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


def whole(args: Mapping[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    """A whole number in [low, high]; absent or blank is ``default``; anything else is a BadParameter."""
    raw = first(args, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, f"{raw[:40]!r} is not a whole number") from None
    if not low <= value <= high:
        raise BadParameter(name, f"must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True)
class Window:
    """A time window: ``range`` is a RANGES key or CUSTOM; ``start`` None reaches back to the first
    row; ``end`` None is now. A row is in it when start <= its time < end."""

    range: str
    start: datetime | None
    end: datetime | None = None

    def to_args(self) -> dict[str, list[str]]:
        """The query-string arguments (each name -> its values) that ask for this window again."""
        if self.range != CUSTOM:
            return {"range": [self.range]}
        return {name: [value.isoformat()] for name, value in (("start", self.start), ("end", self.end)) if value}


def window(args: Mapping[str, list[str]], now: datetime, default: str = DEFAULT_RANGE) -> Window:
    """The window a query string asks for: ``range``, or ``start``/``end``; else a deprecated name
    (``age``, ``days``, ``hours``); else ``default``. A bad value is a BadParameter naming it."""
    start, end = (_moment(args, name) for name in ("start", "end"))
    if start and end and end <= start:
        raise BadParameter("end", "must be after start")
    if start or end:
        return Window(CUSTOM, start, end)
    for name in ("range", "age"):
        chosen = first(args, name)
        if chosen is not None:
            return _named(name, chosen, now)
    for name, unit in LEGACY_UNITS.items():
        if first(args, name) is not None:
            count = whole(args, name, 0, 1, MAX_LEGACY_SPAN // unit)
            return Window(CUSTOM, now - count * unit)
    return _named("range", default, now)


def _named(name: str, chosen: str, now: datetime) -> Window:
    if chosen not in RANGES:
        raise BadParameter(name, f"{chosen[:20]!r} is not one of {', '.join(RANGES)}")
    span = RANGES[chosen]
    return Window(chosen, None if span is None else now - span)


def _moment(args: Mapping[str, list[str]], name: str) -> datetime | None:
    raw = first(args, name)
    return parse_time(raw, name) if raw else None
