"""Grids sized by content, and grids on phones (< 576 px wide): the status column first,
secondary columns hidden, and a tap on a row opening its detail with every column.

``size_by_content`` marks a grid's columns: free text (``text``: error, summary, note) ``sm-text``,
sharing what is left (flex), one line cut with an ellipsis and its whole text on hover, shrunk to
its header while every cell is empty; every other column ``sm-fit``, as wide as what it shows,
header included (status, numbers, times: never cut). Headers wrap rather than overlap. The browser
applies it as rows, columns and the grid's width change (assets/sync-monitor.js, ``sizeColumns``).

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
FIT, TEXT = "sm-fit", "sm-text"
PHONE_PX = 576
TEXT_MIN_PX = 90  # a free-text column's least width: room for its header, and its narrow width when empty
SIZE_EVENTS = ("firstDataRendered", "rowDataUpdated", "modelUpdated", "gridSizeChanged", "newColumnsLoaded",
               "columnVisible")


def _right_aligned(column: dict) -> bool:
    kind = column.get("type")
    return kind == "rightAligned" or (isinstance(kind, list) and "rightAligned" in kind)


def _mark(column: dict, mark: str) -> None:
    """Add ``mark`` to the column's header classes; a right-aligned column keeps its type's own
    (a colDef's ``headerClass`` and ``cellClass`` replace those its type sets)."""
    extra = ["ag-right-aligned-header"] if _right_aligned(column) else []
    marks = column.get("headerClass", "").split()
    column["headerClass"] = " ".join(dict.fromkeys([*marks, *extra, mark]))


def _cell_mark(column: dict, mark: str) -> None:
    extra = ["ag-right-aligned-cell"] if _right_aligned(column) else []
    column["cellClass"] = " ".join(dict.fromkeys([*column.get("cellClass", "").split(), *extra, mark]))


def size_by_content(grid: dag.AgGrid, text: Iterable[str] = ()) -> dag.AgGrid:
    """Mark ``grid``'s columns: ``text`` fields share the room left (flex), every other column takes
    its content's width; a column with a fixed width of its own (``suppressSizeToFit``) keeps it."""
    free = set(text)
    for column in grid.columnDefs:
        if column.get("suppressSizeToFit"):
            continue
        field = column.get("field")
        if field in free:
            _mark(column, TEXT)
            column.pop("pinned", None)  # free text is never pinned aside: it takes the room left
            column.pop("width", None)
            column["flex"] = column.get("flex") or 1
            column["minWidth"] = TEXT_MIN_PX
            _cell_mark(column, "sm-text-cell")
            column.setdefault("tooltipField", field)
        else:
            _mark(column, FIT)
            column.pop("flex", None)
            column.pop("minWidth", None)
            _cell_mark(column, "sm-fit-cell")
    defaults = dict(getattr(grid, "defaultColDef", None) or {})
    grid.defaultColDef = {**defaults, "wrapHeaderText": True, "autoHeaderHeight": True}
    options = dict(getattr(grid, "dashGridOptions", None) or {})
    # every column rendered, so each can be measured; no header sliding over another as columns move
    grid.dashGridOptions = {**options, "suppressColumnVirtualisation": True, "suppressColumnMoveAnimation": True}
    listeners = dict(getattr(grid, "eventListeners", None) or {})
    for event in SIZE_EVENTS:
        listeners[event] = [*listeners.get(event, []), "sizeColumns(params)"]
    grid.eventListeners = listeners
    return grid


def fit_to_phones(grid: dag.AgGrid, secondary: Iterable[str], first: str | None = "status") -> dag.AgGrid:
    hidden = set(secondary)
    for column in grid.columnDefs:
        marks = [FIRST] if column.get("field") == first else []
        marks += [SECONDARY] if column.get("field") in hidden else []
        for mark in marks:
            _mark(column, mark)
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
