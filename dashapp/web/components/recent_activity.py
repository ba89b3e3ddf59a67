"""Recent activity: the newest runs, each linking to its run page (``/runs/<id>``).

Rows are the ``syncs`` of ``/api/recent-syncs`` as they are (``dashapp.payloads.overview.recent``).
"""

from __future__ import annotations

import dash_ag_grid as dag

from dashapp.web import ids
from dashapp.web.components.grid_fit import size_by_content


def recent_activity_grid(display_timezone: str | None) -> dag.AgGrid:
    zone = {"timeZone": display_timezone}
    columns = [
        {"field": "start_time", "headerName": "Time", "cellRenderer": "RelativeTime", "cellRendererParams": zone,
         "width": 110},
        {"field": "id", "headerName": "Run", "cellRenderer": "RunLink", "width": 95},
        {"field": "crm_source", "headerName": "CRM", "width": 120},
        {"field": "sync_type", "headerName": "Sync type", "width": 130},
        {"field": "status", "headerName": "Status", "cellRenderer": "StatusBadge", "width": 110},
        {"field": "records_processed", "headerName": "Records", "type": "rightAligned", "width": 105,
         "valueFormatter": {"function": "formatCount(params.value)"}},
        {"field": "duration_seconds", "headerName": "Duration", "type": "rightAligned", "cellRenderer": "Duration",
         "width": 110},
        {"field": "error_message", "headerName": "Error", "tooltipField": "error_message"},
    ]
    return size_by_content(dag.AgGrid(
        id=ids.RECENT_ACTIVITY_GRID,
        rowData=[],
        columnDefs=columns,
        defaultColDef={"sortable": False, "resizable": True},
        dashGridOptions={"domLayout": "autoHeight", "tooltipShowDelay": 300},
        style={"width": "100%"},
    ), text=("error_message",))
