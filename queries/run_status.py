"""Status classes: the one place that decides which class a raw ``status`` belongs to
(shared/reference/sync-tables.md): ``running`` (also ``in_progress``), ``success`` (also
``completed``), ``failed``, ``partial``; any other value is ``unknown``. SQL that selects a class
uses ``statuses_of`` so that the raw values and the Python side cannot disagree."""

from __future__ import annotations

CLASSES: dict[str, tuple[str, ...]] = {
    "running": ("running", "in_progress"),
    "success": ("success", "completed"),
    "failed": ("failed",),
    "partial": ("partial",),
}
_CLASS_OF = {raw: name for name, raws in CLASSES.items() for raw in raws}


def status_class(raw: object) -> str:
    """``completed`` -> ``success``; None or an unknown value -> ``unknown``."""
    return _CLASS_OF.get(str(raw).strip().lower(), "unknown") if raw is not None else "unknown"


def statuses_of(name: str) -> tuple[str, ...]:
    """The raw values of a class, for an SQL IN list (bound, never formatted in)."""
    return CLASSES[name]
