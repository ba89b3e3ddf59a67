"""The CRM sync status table: one row per CRM, sortable, times relative with absolute on hover.

Rows are the records of ``/api/crm-status`` as they are (``dashapp.payloads.crm_statuses``);
the cell renderers live in assets/sync-monitor.js.
"""

from __future__ import annotations

import dash_ag_grid as dag

from dashapp import ids

_NUMBER = {"function": "formatCount(params.value)"}  # dashAgGridFunctions, assets/sync-monitor.js


def crm_status_grid(display_timezone: str | None) -> dag.AgGrid:
    zone = {"timeZone": display_timezone}
    columns = [
        {"field": "name", "headerName": "CRM", "pinned": "left", "minWidth": 130, "cellRenderer": "CrmHistoryLink"},
        {"field": "sync_type", "headerName": "Sync type", "minWidth": 120},
        {"field": "last_sync", "headerName": "Last sync", "cellRenderer": "RelativeTime",
         "cellRendererParams": zone, "sort": "desc", "minWidth": 120},
        {"field": "status", "headerName": "Status", "cellRenderer": "StatusBadge", "minWidth": 110},
        {"field": "records_processed", "headerName": "Processed", "type": "rightAligned",
         "valueFormatter": _NUMBER, "minWidth": 110},
        {"field": "records_created", "headerName": "Created", "type": "rightAligned",
         "valueFormatter": _NUMBER, "minWidth": 100},
        {"field": "records_updated", "headerName": "Updated", "type": "rightAligned",
         "valueFormatter": _NUMBER, "minWidth": 100},
        {"field": "duration_seconds", "headerName": "Duration", "type": "rightAligned",
         "cellRenderer": "Duration", "minWidth": 110},
        {"field": "next_sync", "headerName": "Next sync", "cellRenderer": "NextSync",
         "cellRendererParams": zone, "minWidth": 170, "flex": 1},
    ]
    return dag.AgGrid(
        id=ids.CRM_STATUS_GRID,
        rowData=[],
        columnDefs=columns,
        defaultColDef={"sortable": True, "resizable": True, "filter": False},
        getRowId={"function": "params.data.crm_source"},
        dashGridOptions={"domLayout": "autoHeight"},
        columnSize="responsiveSizeToFit",
        className="crm-status-grid",
        style={"width": "100%"},
    )
