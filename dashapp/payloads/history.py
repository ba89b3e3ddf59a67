"""The history's filter, parsed once into one object (``HistoryFilter``) for the page URL, the
grid's controls, ``/export/sync-history.csv`` (csv, ndjson, xlsx) and the links that open it.

Its query-string parameters:

    range=24h|7d|30d|90d|all  (default 7d; ignored when start or end is given)
    start, end                ISO 8601 (a time without an offset is UTC); start_time in [start, end)
    crm_source, status, sync_type   repeated or comma-separated
    q                         text the error message contains
    sort                      column:asc|desc, comma-separated (default start_time:desc)
    filter                    AG Grid's column filter model, as JSON
    ended_after               ISO 8601: only runs that ended at or after it (the overview cards' 24 h)
    times=impossible          only runs at impossible times (a start before 2000 or after a day
                              from now, ±infinity included: /health's list); no range applies
    id                        (page only) one run to open in the detail panel
    at                        ISO 8601: the history as of that moment (``params.at``): the range
                              ends there (a later end is cut to it), only runs started before it,
                              a run that ended after it shows as running with no end

``HistoryFilter.from_args`` reads every parameter on its own: a bad one is set aside as a
BadParameter (the page shows each as a chip, "ignored: status 'bogus'") and its default is used.
``HistoryFilter.parse`` is the same parser, raising the first of them: the export and the grid
answer it with a 400 or a message. A crm_source, status or sync_type value must be one the table
holds (``known``, from ``params.known_values`` or ``params.known_of``); a status class and its
aliases always count as known. ``to_search`` is the query string that asks for the filter again;
``query_values`` the keyword arguments of ``queries.history``'s readers.

The range is not ``params.window``: the history reads it leniently (a bad range is a chip, not a
400), takes ``times=impossible`` as "all", and keeps a good start when the end is not after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from dashapp import display
from dashapp.errors import BadParameter
from dashapp.payloads.params import AT, CUSTOM, DEFAULT_RANGE, RANGES, VALUE_LISTS, at, first, to_search, values
from queries import impossible_times
from queries.history import (
    MAX_PAGE,
    FilterValues,
    check_filter_model,
    parse_filter_model,
    parse_sort,
    parse_time,
    sort_pairs,
)

PARAMETERS = ("range", "start", "end", "crm_source", "status", "sync_type", "q", "sort", "filter", "times", "at")
TIMES_CHOICES = ("impossible",)
UTC_ZONE = ZoneInfo("UTC")
Known = Mapping[str, Collection[str]]
T = TypeVar("T")


@dataclass(frozen=True)
class GridBlock:
    """One block AG Grid's infinite row model asks for: rows ``offset`` .. ``offset + limit``,
    its column filters and its sort, read once from its request."""

    offset: int = 0
    limit: int = 100
    columns: dict = field(default_factory=dict)
    sort: tuple[tuple[str, str], ...] = ()

    @classmethod
    def read(cls, request: Mapping[str, object]) -> GridBlock:
        """The block of a ``getRowsRequest``; a bad value is a BadParameter named as the grid sent it."""
        offset, limit = _rows(request)
        model = request.get("filterModel") or {}
        return cls(offset, limit, check_filter_model(model), sort_pairs(_sort_model(request.get("sortModel"))))


def _rows(request: Mapping[str, object]) -> tuple[int, int]:
    """The grid's startRow and the number of rows it asks for (the query checks the offset's range)."""
    start, end = request.get("startRow", 0), request.get("endRow")
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise BadParameter("startRow", f"must be a whole number from 0, got {str(start)[:20]!r}")
    if end is None:
        return start, 100
    if not isinstance(end, int) or isinstance(end, bool) or not start < end <= start + MAX_PAGE:
        raise BadParameter("endRow", f"must be a whole number from startRow + 1 to startRow + {MAX_PAGE}, "
                                     f"got {str(end)[:20]!r}")
    return start, end - start


def _sort_model(sort_model: object) -> list[tuple[str, str]]:
    sort_model = sort_model or []
    if not isinstance(sort_model, list) or not all(isinstance(s, dict) and isinstance(s.get("colId"), str)
                                                   and isinstance(s.get("sort"), str) for s in sort_model):
        raise BadParameter("sort", "the grid's sort model must be a list of {colId, sort}")
    return [(s["colId"], s["sort"]) for s in sort_model]


@dataclass(frozen=True)
class HistoryFilter:
    """What a history URL, the grid's controls or an export asks for."""

    start: datetime | None = None  # start_time >= start (aware)
    end: datetime | None = None  # start_time < end (aware)
    crm_sources: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    sync_types: tuple[str, ...] = ()
    q: str | None = None  # error_message contains, case-insensitive
    columns: dict = field(default_factory=dict)  # AG Grid's filterModel
    sort: tuple[tuple[str, str], ...] = ()  # (column id, "asc" | "desc"); default newest first
    zone: str = "UTC"  # the zone grid date filters are given in (the viewer's)
    ended_after: datetime | None = None  # end_time >= ended_after (aware): the overview cards' windows
    # (low, high): only runs whose start is outside them (/health's impossible times)
    outside: tuple[datetime, datetime] | None = None
    range: str = DEFAULT_RANGE  # the range control's value: a RANGES key, or "custom"
    as_of: datetime | None = None  # the moment shown (``at``), None when live

    @classmethod
    def from_args(cls, args: Mapping[str, list[str]], now: datetime, zone: str = "UTC",
                  known: Known | None = None) -> tuple[HistoryFilter, list[BadParameter]]:
        """Every parameter read on its own; a bad one is named in the list and its default used."""
        return _read(args, now, zone, known, UTC_ZONE)

    @classmethod
    def parse(cls, args: Mapping[str, list[str]], now: datetime, zone: str = "UTC",
              known: Known | None = None) -> HistoryFilter:
        """``from_args``, raising the first bad parameter as a BadParameter."""
        return _strict(_read(args, now, zone, known, UTC_ZONE))

    @classmethod
    def from_controls(cls, now: datetime, grid: GridBlock, *, range_value: object, start: object, end: object,
                      crm_sources: object, statuses: object, sync_types: object, q: object, zone: str = "UTC",
                      ended_after: object = None, times: object = None, as_of: object = None) -> HistoryFilter:
        """The page's controls and the grid's block: a custom range is entered in the viewer's
        ``zone``; the first bad value raises a BadParameter."""
        custom = range_value == CUSTOM
        controls = {"range": "all" if custom else range_value, "start": start if custom else None,
                    "end": end if custom else None, "crm_source": crm_sources, "status": statuses,
                    "sync_type": sync_types, "q": q, "ended_after": ended_after, "times": times, AT: as_of}
        args = {name: _as_list(value) for name, value in controls.items()}
        selection = _strict(_read(args, now, zone, None, ZoneInfo(zone)))
        return replace(selection, columns=grid.columns, sort=grid.sort)

    def to_search(self) -> str:
        """The query string that asks for this filter again (``from_args`` reads it back)."""
        state: dict[str, object] = {"ended_after": display.iso_utc(self.ended_after)}
        if self.outside is not None:
            state["times"] = TIMES_CHOICES[0]
        if self.range == CUSTOM:
            state.update(start=display.iso_utc(self.start), end=display.iso_utc(self.end), range="all")
        elif self.range != DEFAULT_RANGE:
            state["range"] = self.range
        state.update(crm_source=self.crm_sources, status=self.statuses, sync_type=self.sync_types, q=self.q)
        if self.columns:
            state["filter"] = json.dumps(self.columns, separators=(",", ":"))
        state["sort"] = ",".join(f"{column}:{direction}" for column, direction in self.sort)
        state[AT] = display.iso_utc(self.as_of)
        return to_search(state)

    def query_values(self) -> FilterValues:
        """The keyword arguments of ``queries.history``'s readers."""
        values = FilterValues(start=self.start, end=self.end, crm_sources=self.crm_sources, statuses=self.statuses,
                              sync_types=self.sync_types, q=self.q, columns=self.columns, sort=self.sort,
                              zone=self.zone, ended_after=self.ended_after, outside=self.outside)
        if self.as_of is not None:
            values["as_of"] = self.as_of
        return values

    def export_name(self, now: datetime, extension: str) -> str:
        """``sync-history-<from>-<to>.<ext>``, dates in UTC; as of a moment
        ``sync-history-<from>-<to>-as-of-<YYYYMMDDTHHMMSSZ>.<ext>``."""
        start = self.start.strftime("%Y%m%d") if self.start else "all"
        end = (self.end or self.as_of or now).strftime("%Y%m%d")
        as_of = f"-as-of-{self.as_of:%Y%m%dT%H%M%SZ}" if self.as_of else ""
        return f"sync-history-{start}-{end}{as_of}.{extension}"


def _as_list(value: object) -> list:
    """A control's value as query-string arguments carry it."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _strict(parsed: tuple[HistoryFilter, list[BadParameter]]) -> HistoryFilter:
    selection, ignored = parsed
    if ignored:
        raise ignored[0]
    return selection


def _read(args: Mapping[str, list[str]], now: datetime, zone: str, known: Known | None,
          times_zone: ZoneInfo) -> tuple[HistoryFilter, list[BadParameter]]:
    """Every parameter read on its own (``start``/``end`` without an offset in ``times_zone``), in
    the order their problems are named."""
    ignored: list[BadParameter] = []
    as_of = _guarded(ignored, None, lambda: at(args, now))
    start, end = _time(args, "start", ignored, times_zone), _time(args, "end", ignored, times_zone)
    if as_of is not None and end is not None and end > as_of:
        end = as_of  # nothing after the moment shown
    if start and end and end <= start:
        ignored.append(BadParameter("end", "must be after start"))
        end = None
    chosen = _guarded(ignored, DEFAULT_RANGE, lambda: first(args, "range") or DEFAULT_RANGE)
    if chosen not in RANGES:
        ignored.append(BadParameter("range", f"{chosen[:20]!r} is not one of {', '.join(RANGES)}"))
        chosen = DEFAULT_RANGE
    outside = _outside(args, now, ignored)
    if outside is not None and not args.get("range"):
        chosen = "all"  # impossible times are outside any recent range
    shown_range = CUSTOM if start or end else chosen
    if start is None and end is None and RANGES[chosen] is not None:
        start = (as_of or now) - RANGES[chosen]
    columns = _guarded(ignored, {}, lambda: parse_filter_model(first(args, "filter")))
    sort = _guarded(ignored, (), lambda: parse_sort(first(args, "sort")))
    q = _guarded(ignored, None, lambda: first(args, "q"))
    selection = HistoryFilter(
        start=start, end=end, crm_sources=_listed(args, "crm_source", known, ignored),
        statuses=_listed(args, "status", known, ignored), sync_types=_listed(args, "sync_type", known, ignored),
        q=q, columns=columns, sort=sort, zone=zone, ended_after=_time(args, "ended_after", ignored, UTC_ZONE),
        outside=outside, range=shown_range, as_of=as_of,
    )
    return selection, ignored


def _guarded(ignored: list[BadParameter], default: T, read: Callable[[], T]) -> T:
    """``read()``, or ``default`` with its BadParameter set aside in ``ignored``."""
    try:
        return read()
    except BadParameter as exc:  # FilterError is a BadParameter naming the parameter
        ignored.append(exc)
        return default


def _time(args: Mapping[str, list[str]], name: str, ignored: list[BadParameter],
          zone: ZoneInfo) -> datetime | None:
    def read() -> datetime | None:
        raw = first(args, name)
        return parse_time(raw, name, zone) if raw else None
    return _guarded(ignored, None, read)


def _outside(args: Mapping[str, list[str]], now: datetime, ignored: list[BadParameter]) -> tuple | None:
    """``times=impossible``: the plausible start range at ``now``, whose outside is asked for."""
    chosen = _guarded(ignored, None, lambda: first(args, "times"))
    if chosen is None:
        return None
    if chosen not in TIMES_CHOICES:
        ignored.append(BadParameter("times", f"{chosen[:20]!r} is not one of {', '.join(TIMES_CHOICES)}"))
        return None
    return impossible_times.bounds(now)


def _listed(args: Mapping[str, list[str]], name: str, known: Known | None,
            ignored: list[BadParameter]) -> tuple[str, ...]:
    found = _guarded(ignored, (), lambda: values(args, name))
    if known is None or name not in known:
        return found
    for value in found:
        if value not in known[name]:
            ignored.append(BadParameter(name, f"{value[:40]!r} is not {VALUE_LISTS[name]} in sync_history"))
    return tuple(v for v in found if v in known[name])
