"""The failed-operations grid: one row per operation (``/api/failed-operations`` records), with
check boxes for operators to pick the ones to retry."""

from __future__ import annotations

import dash_ag_grid as dag

from dashapp import ids


def failed_grid(display_timezone: str | None, selectable: bool) -> dag.AgGrid:
    zone = {"timeZone": display_timezone}
    columns = [
        {"field": "id", "headerName": "Run", "cellRenderer": "RunLink", "width": 110},
        {"field": "failed_at", "headerName": "Failed", "cellRenderer": "RelativeTime", "cellRendererParams": zone,
         "width": 130},
        {"field": "name", "headerName": "CRM", "width": 130, "filter": "agTextColumnFilter"},
        {"field": "operation_type", "headerName": "Operation", "width": 140, "filter": "agTextColumnFilter"},
        {"field": "run_status", "headerName": "Run status", "cellRenderer": "StatusBadge", "width": 120},
        {"field": "state", "headerName": "State", "cellRenderer": "StatusBadge", "width": 115,
         "filter": "agTextColumnFilter"},
        {"field": "attempts", "headerName": "Attempts", "cellRenderer": "Attempts", "width": 110,
         "type": "rightAligned"},
        {"field": "updated_at", "headerName": "Last action", "cellRenderer": "RelativeTime",
         "cellRendererParams": zone, "width": 130},
        {"field": "last_error", "headerName": "Last retry error", "tooltipField": "last_error", "width": 220,
         "filter": "agTextColumnFilter"},
        {"field": "error", "headerName": "Error", "tooltipField": "error", "minWidth": 300, "flex": 1,
         "filter": "agTextColumnFilter"},
    ]
    selection = ({"mode": "multiRow", "checkboxes": True, "headerCheckbox": True, "enableClickSelection": False}
                 if selectable else None)
    return dag.AgGrid(
        id=ids.FAILED_GRID,
        rowData=[],
        columnDefs=columns,
        defaultColDef={"sortable": True, "resizable": True},
        getRowId={"function": "rowIdText(params.data.id)"},
        dashGridOptions={"rowSelection": selection, "tooltipShowDelay": 400, "animateRows": False},
        className="failed-grid",
        style={"height": "55vh", "width": "100%"},
    )
