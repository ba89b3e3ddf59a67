"""One vocabulary of run statuses and one definition of success, for every count, rate, chart,
alert rule, metric and filter (README, "Statuses and rates, one definition").

Status classes: ``running``, ``success``, ``failed``, ``partial``. The sync engines also write
other raw values for some of them (``completed`` is a success, ``in_progress`` is running); the
setting ``STATUS_ALIASES`` maps those, and travels with the engine as the execution option
``status_aliases``. The mapping is applied in SQL (``status IN ('success', 'completed')``), so it
costs nothing on millions of rows and keeps using the status index. Any other value is unknown:
it is shown as it is and counts in no class.

Rates, over runs that finished (or died) in a window:
- success rate = success / (success + failed) x 100;
- failure rate = failed / (success + failed) x 100, so the two add up to 100;
- partial rate = partial / (success + failed + partial) x 100: partial runs are counted and
  shown on their own, never in the other two.
All three are rounded to two decimals, and 0 when their denominator is 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from queries._sql import Connectable

CLASSES = ("running", "success", "failed", "partial")
FINISHED = ("success", "failed", "partial")
DEFAULT_ALIASES: tuple[tuple[str, str], ...] = (("completed", "success"), ("in_progress", "running"))

SUCCESS_RATE_HELP = "success rate = success / (success + failed); partial runs are counted on their own"
FAILURE_RATE_HELP = "failure rate = failed / (success + failed); with the success rate it makes 100%"
PARTIAL_RATE_HELP = "partial rate = partial / (success + failed + partial)"


def aliases(db: Connectable) -> tuple[tuple[str, str], ...]:
    return tuple(db.get_execution_options().get("status_aliases", DEFAULT_ALIASES))


def raw_values(db: Connectable, status_class: str) -> tuple[str, ...]:
    """The raw status values of one class: its own name and its aliases."""
    return (status_class, *(raw for raw, target in aliases(db) if target == status_class))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def in_class(db: Connectable, *classes: str, column: str = "status") -> str:
    """SQL: ``column`` holds a raw value of one of ``classes``."""
    values = [v for c in classes for v in raw_values(db, c)]
    return f"{column} IN ({', '.join(_literal(v) for v in values)})"


def class_case(db: Connectable, column: str = "status") -> str:
    """SQL: the class of ``column``, NULL for an unknown value."""
    whens = " ".join(f"WHEN {in_class(db, c, column=column)} THEN {_literal(c)}" for c in CLASSES)
    return f"CASE {whens} END"


def status_class(raw: object, pairs: Iterable[tuple[str, str]] = DEFAULT_ALIASES) -> str | None:
    """The class of one raw value in Python (for display), None when unknown."""
    if raw is None or raw != raw:  # None or NaN
        return None
    value = str(raw)
    if value in CLASSES:
        return value
    return dict(pairs).get(value)


def filter_values(db: Connectable, values: Iterable[str]) -> tuple[str, ...]:
    """A status filter's values as raw values: a class stands for its aliases too; any other
    value (an unknown status, picked as it is) stays itself."""
    found: dict[str, None] = {}
    for value in values:
        for raw in raw_values(db, value) if value in CLASSES else (value,):
            found.setdefault(raw)
    return tuple(found)


def _rate(part: int, whole: int) -> float:
    return round(part * 100.0 / whole, 2) if whole else 0.0


def success_rate(success: int, failed: int) -> float:
    return _rate(success, success + failed)


def failure_rate(success: int, failed: int) -> float:
    return _rate(failed, success + failed)


def partial_rate(success: int, failed: int, partial: int) -> float:
    return _rate(partial, success + failed + partial)
