"""Query-string parameters, parsed once for every route and page: lists of values, whole numbers,
the one time window (``window``), and the values a CRM, status or sync-type parameter may take
(``known_values``). The history's filter is ``dashapp.payloads.history``.

A window is ``range`` everywhere:

    range=24h|7d|30d|90d|all   (a route's default when absent)
    start, end                 ISO 8601 (a time without an offset is UTC): [start, end), either open

Every page and route also takes ``at`` (ISO 8601, UTC without an offset): the moment it shows,
instead of now (``at``; ``viewing`` gives the moment either way). It may not be in the future nor
before 2000-01-01 (``queries.time_bounds.EARLIEST``).

The names routes used before (``age``, the same choices; ``days=N``; ``hours=N``) are read when
``range``, ``start`` and ``end`` are absent: deprecated, kept for one release.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from dashapp.errors import BadParameter
from queries import outcomes
from queries._sql import Connectable
from queries.choices import filter_values
from queries.history import parse_time
from queries.time_bounds import EARLIEST

# The one list of window choices, for every route and page that takes a window.
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
          "90d": timedelta(days=90), "all": None}
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


VALUE_LISTS = {"crm_source": "a CRM", "status": "a status", "sync_type": "a sync type"}


def known_values(db: Connectable) -> dict[str, set[str]]:
    """The values a CRM, status or sync-type parameter may take: those in sync_history (by
    index skip scans), and for status also the classes and their aliases."""
    return known_of(filter_values(db), outcomes.aliases(db))


def known_of(found: Mapping[str, Iterable[str]], aliases: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """``known_values`` from the distinct values already read (``queries.choices.filter_values``)."""
    known = {column: set(found[column]) for column in VALUE_LISTS}
    known["status"] |= set(outcomes.CLASSES) | {raw for raw, _ in aliases}
    return known


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


AT = "at"  # the query-string name of the moment a view shows instead of now


def at(args: Mapping[str, list[str]], now: datetime) -> datetime | None:
    """The ``at`` a query string asks for (aware UTC), None when absent (live). In the future or
    before EARLIEST is a BadParameter, as is a value that is not ISO 8601."""
    moment = _moment(args, AT)
    if moment is None:
        return None
    if moment > now:
        raise BadParameter(AT, f"{moment:%Y-%m-%d %H:%M:%S} UTC is in the future")
    if moment < EARLIEST:
        raise BadParameter(AT, f"must be on or after {EARLIEST:%Y-%m-%d}")
    return moment


def viewing(args: Mapping[str, list[str]], now: datetime) -> datetime:
    """The moment a view shows: ``at`` when the query string gives it, else ``now``."""
    return at(args, now) or now
