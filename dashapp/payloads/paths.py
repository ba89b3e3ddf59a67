"""Links the app writes (in pages and in JSON) as browsers request them: under URL_PREFIX."""

from __future__ import annotations

from dashapp.runtime import href

__all__ = ["href", "history", "run"]


def history(search: str = "") -> str:
    """The history page with ``search`` (``?...`` or empty)."""
    return href("/history" + search)


def run(run_id: object) -> str:
    """A run's page."""
    return href(f"/runs/{run_id}")
