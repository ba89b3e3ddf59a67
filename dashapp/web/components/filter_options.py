"""Dropdown options for the CRM, status and sync-type filters, from the data itself; and the window
choices (``params.RANGES``, the one list the payloads check) as the pages offer them."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import dash_bootstrap_components as dbc
from sqlalchemy.exc import SQLAlchemyError

from dashapp import display, runtime
from dashapp.errors import error_line
from dashapp.payloads.params import CUSTOM, RANGES, Window, window
from queries import outcomes
from queries.choices import distinct_values

log = logging.getLogger(__name__)


def filter_options(column: str) -> list[dict]:
    """[{"label", "value"}] for ``crm_source``, ``status`` or ``sync_type``; empty when the
    database does not answer (the page still loads and says so on its next refresh)."""
    try:
        values = distinct_values(runtime.engine(), column)
    except SQLAlchemyError as exc:
        log.warning("filter options for %s failed: %s", column, error_line(exc))
        return []
    return options_of(column, values, outcomes.aliases(runtime.engine()))


def options_of(column: str, values: list[str], aliases: tuple[tuple[str, str], ...]) -> list[dict]:
    """[{"label", "value"}] for ``column``'s distinct ``values`` (already read)."""
    if column == "status":
        return status_options(values, aliases)
    label = display.crm_name if column == "crm_source" else str
    return [{"label": label(v), "value": v} for v in values]


def status_options(raw: list[str], aliases: tuple[tuple[str, str], ...]) -> list[dict]:
    """The four classes (each naming the raw values it takes in, ``success (also completed)``),
    then every raw value in no class, as it is."""
    options = []
    for status_class in outcomes.CLASSES:
        also = [value for value, target in aliases if target == status_class and value in raw]
        options.append({"label": status_class + (f" (also {', '.join(also)})" if also else ""),
                        "value": status_class})
    known = set(outcomes.CLASSES) | {value for value, _ in aliases}
    return options + [{"label": f"{v} (unknown)", "value": v} for v in raw if v not in known]


def age_label(window: timedelta | None, short: bool = False) -> str:
    """An age choice in words: "Past 24 hours", "Past 7 days", "Any time" (short: "Past 24 h", "Past 7 d",
    "All"). "Past" is a rolling window ending now (7 days: the last 168 hours); the day charts draw the
    calendar days (UTC) it touches."""
    if window is None:
        return "All" if short else "Any time"
    count, unit = (int(window.total_seconds() // 3600), "hour") if window < timedelta(days=2) else (window.days, "day")
    return f"Past {count} {unit[0]}" if short else f"Past {count} {unit}s"


def age_options(short: bool = False) -> list[dict]:
    """[{"label", "value"}] for every age the consoles and the history take, newest first."""
    return [{"label": age_label(window, short), "value": age} for age, window in RANGES.items()]


def range_control(control_id: str, value: str, custom: bool = False) -> dbc.RadioItems:
    """A page's window control as the history offers it: the ranges as buttons ("Past 24 h" …
    "All"), and "Custom" when the page shows a window a link asked for by start and end."""
    options = [*age_options(short=True), *([{"label": "Custom", "value": CUSTOM}] if custom else [])]
    return dbc.RadioItems(id=control_id, value=value, inline=True, className="btn-group",
                          inputClassName="btn-check", labelClassName="btn btn-outline-secondary btn-sm",
                          labelCheckedClassName="active", options=options)


def chosen_window(value: object, now: datetime, default: str) -> Window:
    """A range control's value (as the browser sent it: anything) as a window at ``now``; anything
    but a range is ``default``."""
    return window({"range": [value if isinstance(value, str) and value in RANGES else default]}, now, default)


def range_words(chosen: str) -> str:
    """A range in a sentence: "the past 24 hours", "any time" (a custom window: "this window")."""
    if chosen not in RANGES:
        return "this window"
    words = age_label(RANGES[chosen])
    return words.lower() if RANGES[chosen] is None else "the " + words.lower()
