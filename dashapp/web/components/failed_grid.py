"""The failed-operations grid: one row per operation (``/api/failed-operations`` records), with
check boxes for operators to pick the ones to retry."""

from __future__ import annotations

import dash_ag_grid as dag

from dashapp.web import ids
from dashapp.web.components.grid_fit import fit_to_phones, size_by_content

# A message cut to queries.messages.ROW_BOUND shows its full length after it (the details show more).
_CUT = "cutMessage(params, '{prefix}')"  # assets/long-messages.js


def failed_grid(display_timezone: str | None, selectable: bool) -> dag.AgGrid:
    zone = {"timeZone": display_timezone}
    columns = [
        {"field": "id", "headerName": "Run", "cellRenderer": "RunLinkAt", "width": 110},
        {"field": "failed_at", "headerName": "Failed", "cellRenderer": "RelativeTime", "cellRendererParams": zone,
         "width": 130},
        {"field": "name", "headerName": "CRM", "width": 130, "filter": "agTextColumnFilter"},
        {"field": "sync_type", "headerName": "Sync type", "width": 140, "filter": "agTextColumnFilter"},
        {"field": "run_status", "headerName": "Run status", "cellRenderer": "StatusBadge", "width": 120},
        {"field": "state", "headerName": "State", "cellRenderer": "StatusBadge", "width": 115,
         "filter": "agTextColumnFilter"},
        {"field": "attempts", "headerName": "Attempts", "cellRenderer": "Attempts", "width": 110,
         "type": "rightAligned"},
        {"field": "updated_at", "headerName": "Last action", "cellRenderer": "RelativeTime",
         "cellRendererParams": zone, "width": 130},
        {"field": "error", "headerName": "Error", "tooltipField": "error", "minWidth": 300, "flex": 1,
         "filter": "agTextColumnFilter", "valueFormatter": {"function": _CUT.format(prefix="message")}},
        {"field": "last_error", "headerName": "Last retry error", "tooltipField": "last_error", "width": 260,
         "filter": "agTextColumnFilter", "valueFormatter": {"function": _CUT.format(prefix="last_error")}},
    ]
    options: dict = {"tooltipShowDelay": 400, "animateRows": False}
    if selectable:  # (a rowSelection of None hangs AG Grid: leave the option out instead)
        options["rowSelection"] = {"mode": "multiRow", "checkboxes": True, "headerCheckbox": True,
                                   "enableClickSelection": False}
    return fit_to_phones(size_by_content(dag.AgGrid(
        id=ids.FAILED_GRID,
        rowData=[],
        columnDefs=columns,
        defaultColDef={"sortable": True, "resizable": True},
        # a string expression, not {"function": ...}: dash-ag-grid parses it to re-select rows, and
        # AG Grid wants a string id, hence the rows' "row_id" (their id as text)
        getRowId="params.data.row_id",
        dashGridOptions=options,
        className="failed-grid",
        style={"height": "55vh", "width": "100%"},
    ), text=("error", "last_error")),
        ("failed_at", "sync_type", "run_status", "attempts", "updated_at", "error", "last_error"),
        first="state")  # on a phone a tap opens the operation's details with every field
