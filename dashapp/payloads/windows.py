"""A query string's window (``params.Window``) as the payloads read it: the key the shared cache
files an answer under, and its bounds at ``now``.

A named range (``7d``) moves with ``now``, so its cache key is the name alone, and so is an open
window a range's length long (the deprecated ``days=7``); another custom window's key is its start
and end. Bounds are [start, end): ``end`` is now unless a custom end before now
is asked for (a later one is now: nothing has happened yet); ``all`` starts at the midnight (UTC)
of the first row's day (``first``, read by the caller cheaply on an index); no window reaches back
further than MAX_SPAN (3650 days) before its end.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dashapp.payloads.day_cache import day_start
from dashapp.payloads.params import CUSTOM, RANGES, Window
from queries.time_bounds import EARLIEST

MAX_SPAN = timedelta(days=3650)
# named spans the app asks for itself and no query string can (``params.window`` checks RANGES):
# the overview's rate-limit card reads the past hour
OWN_SPANS = {"1h": timedelta(hours=1)}
SPANS = {**RANGES, **OWN_SPANS}


def steady(window: Window, now: datetime) -> Window:
    """The window as a cache key: a named range without its start, which moves with now; an open
    window a range's length long at ``now`` is that range."""
    if window.range == CUSTOM and window.start is not None and window.end is None:
        named = [name for name, span in RANGES.items() if span == now - window.start]
        return Window(named[0], None) if named else window
    return window if window.range == CUSTOM else Window(window.range, None)


def keyed(function: Callable[..., Any]) -> Callable[..., Any]:
    """Call a shared payload ``function(engine, window, now, ...)`` with its window ``steady``, so
    the shared cache files a named range under its name (put it above ``@shared``)."""
    @functools.wraps(function)
    def call(engine: Any, window: Window, now: datetime, *args: Any, **kwargs: Any) -> Any:
        return function(engine, steady(window, now), now, *args, **kwargs)
    return call


def bounds(window: Window, now: datetime,
           first: Callable[[datetime, datetime], datetime | None]) -> tuple[datetime, datetime]:
    """(start, end) of ``window`` at ``now``; ``first(low, end)`` is the earliest row's time at or
    after ``low`` (None when there is none), asked only for ``all`` or an open custom start."""
    if window.range == CUSTOM:
        start, end = window.start, min(window.end or now, now)
    else:
        span = SPANS[window.range]
        start, end = (None if span is None else now - span), now
    low = max(end - MAX_SPAN, EARLIEST)
    if start is None:
        found = first(low, end)
        start = end if found is None else day_start(found.date())
    return min(max(start, low), end), end
