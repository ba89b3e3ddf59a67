"""One panel's own failure: when its query fails (a statement timeout on a slow database, a
locked table) the panel says why while the rest of the page loads. A panel that loaded before
keeps its last numbers; one that never loaded shows its empty state with the reason.

``load(name, fetch)`` runs one panel's queries and returns ``(value, error)``. The page's refresh
state remembers which panels have loaded (``remember``), so ``sentence`` can tell the two apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dash_bootstrap_components as dbc
from sqlalchemy.exc import SQLAlchemyError

from dashapp.auth.disclosure import shown_error
from dashapp.errors import error_line

log = logging.getLogger(__name__)


def load(name: str, fetch: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return fetch(), None
    except SQLAlchemyError as exc:
        log.warning("%s did not load: %s", name, error_line(exc))
        return None, shown_error(exc)


def loaded_before(previous: dict | None) -> set[str]:
    """The panels that have loaded at least once on this page, from its previous refresh state."""
    return set((previous or {}).get("loaded") or [])


def remember(state: dict, loaded: set[str], errors: dict[str, str | None]) -> dict:
    """The refresh state with the panels loaded so far (those before, and those that loaded now)."""
    return {**state, "loaded": sorted(loaded | {panel for panel, error in errors.items() if error is None})}


def sentence(panel: str, error: str, loaded: set[str]) -> str:
    if panel in loaded:
        return f"{panel} did not refresh: {error}. It shows the last numbers it loaded."
    return f"{panel} did not load: {error}. It tries again at the next refresh."


def note(panel: str, error: str | None, loaded: set[str]) -> dbc.Alert | None:
    if error is None:
        return None
    return dbc.Alert(sentence(panel, error, loaded), color="warning", className="small py-1 px-2 mb-2 panel-note")
