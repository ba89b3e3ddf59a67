"""Dropdown options for the CRM, status and sync-type filters, from the data itself; and the age
choices (``params.AGES``, the one list the payloads check) as the pages offer them."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from dashapp import display, runtime
from dashapp.errors import error_line
from dashapp.payloads.params import AGES
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
    "All"). "Past" is a rolling window ending now (7 days: the last 168 hours); the day charts' "Last
    7 UTC days (today so far)" are calendar days (``day_window_label``)."""
    if window is None:
        return "All" if short else "Any time"
    count, unit = (int(window.total_seconds() // 3600), "hour") if window < timedelta(days=2) else (window.days, "day")
    return f"Past {count} {unit[0]}" if short else f"Past {count} {unit}s"


def day_window_label(days: int) -> str:
    """A day chart's window in words: calendar days in UTC, today's so far ("Last 7 UTC days (today so
    far)"; one: "Today (UTC, so far)")."""
    return "Today (UTC, so far)" if days == 1 else f"Last {days} UTC days (today so far)"


def age_options(short: bool = False) -> list[dict]:
    """[{"label", "value"}] for every age the consoles and the history take, newest first."""
    return [{"label": age_label(window, short), "value": age} for age, window in AGES.items()]
