"""Grids on phones (< 576 px wide): the status column first, secondary columns hidden, and a tap
on a row opening its detail with every column (issue 18, item 5).

``fit_to_phones`` marks a grid's columns (``headerClass`` ``sm-first`` / ``sm-secondary``) and adds
the listeners that apply them as the grid's width changes (assets/sync-monitor.js, ``fitColumns``).
``row_detail`` is the modal a tap opens, filled in the browser from the row the grid already holds
(``rowDetail``); register its callback once per grid with ``register_row_detail``.
"""

from __future__ import annotations

from collections.abc import Iterable

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc, html

FIRST, SECONDARY = "sm-first", "sm-secondary"
PHONE_PX = 576


def fit_to_phones(grid: dag.AgGrid, secondary: Iterable[str], first: str | None = "status") -> dag.AgGrid:
    hidden = set(secondary)
    for column in grid.columnDefs:
        marks = [FIRST] if column.get("field") == first else []
        marks += [SECONDARY] if column.get("field") in hidden else []
        if marks:
            column["headerClass"] = " ".join([column.get("headerClass", ""), *marks]).strip()
    listeners = dict(getattr(grid, "eventListeners", None) or {})
    # also when rows or column definitions arrive again: a grid that re-reads its columns puts
    # them back in their defined order (fitColumns is idempotent and cheap)
    for event in ("gridSizeChanged", "firstDataRendered", "rowDataUpdated", "newColumnsLoaded"):
        listeners[event] = [*listeners.get(event, []), "fitColumns(params)"]
    grid.eventListeners = listeners
    return grid


def _ids(grid_id: str) -> tuple[str, str, str]:
    return f"{grid_id}-detail", f"{grid_id}-detail-body", f"{grid_id}-detail-skip"


def row_detail(grid_id: str, skip: Iterable[str] = ()) -> html.Div:
    """The modal a tap on a row of ``grid_id`` opens on a phone; taps on ``skip`` columns (links,
    expanders) do what they do instead."""
    modal, body, skipped = _ids(grid_id)
    return html.Div([
        dcc.Store(id=skipped, data=list(skip)),
        dbc.Modal([dbc.ModalHeader(dbc.ModalTitle("Row")), dbc.ModalBody(id=body)], id=modal, is_open=False,
                  scrollable=True, centered=True),
    ])


def register_row_detail(grid_id: str) -> None:
    modal, body, skipped = _ids(grid_id)
    clientside_callback(
        ClientsideFunction("syncMonitor", "rowDetail"),
        Output(body, "children"),
        Output(modal, "is_open"),
        Input(grid_id, "cellClicked"),
        State(grid_id, "columnDefs"),
        State(grid_id, "rowData"),
        State(skipped, "data"),
        prevent_initial_call=True,
    )
