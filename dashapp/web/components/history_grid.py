"""The history grid: AG Grid's infinite row model, every filter and sort applied in SQL.

The column ids are those of ``queries.history.COLUMNS``; the filter options offered are the ones
``queries.history`` maps onto SQL.
"""

from __future__ import annotations

import dash_ag_grid as dag

from dashapp.web import ids
from dashapp.web.components.grid_fit import fit_to_phones, size_by_content

_TEXT = {"filter": "agTextColumnFilter", "filterParams": {
    "filterOptions": ["contains", "notContains", "equals", "notEqual", "startsWith", "endsWith", "blank", "notBlank"],
    "maxNumConditions": 2, "buttons": ["reset"], "debounceMs": 400}}
_NUMBER = {"filter": "agNumberColumnFilter", "type": "rightAligned", "filterParams": {
    "filterOptions": ["equals", "notEqual", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual",
                      "inRange", "blank", "notBlank"],
    "maxNumConditions": 2, "buttons": ["reset"], "debounceMs": 400},
    "valueFormatter": {"function": "formatCount(params.value)"}}
_DATE = {"filter": "agDateColumnFilter", "filterParams": {
    "filterOptions": ["equals", "notEqual", "lessThan", "greaterThan", "inRange", "blank", "notBlank"],
    "maxNumConditions": 2, "buttons": ["reset"]}}


PHONE_HIDES = ("id", "sync_type", "end_time", "duration_seconds", "records_processed", "records_created",
               "records_updated", "records_failed", "error_message")


def zoned(name: str) -> dict:
    """A time column's header naming the zone its cells are shown in: "Start (UTC)", "Start (CET)"."""
    return {"headerValueGetter": {"function": f"zoneHeader({name!r})"}}


def history_grid(display_timezone: str | None, filter_model: dict, sort: tuple[tuple[str, str], ...]) -> dag.AgGrid:
    zone = {"timeZone": display_timezone}
    columns = [
        {"field": "id", "headerName": "ID", **_NUMBER, "valueFormatter": None, "width": 90},
        {"field": "crm_source", "headerName": "CRM", **_TEXT, "width": 125},
        {"field": "sync_type", "headerName": "Sync type", **_TEXT, "width": 135},
        {"field": "status", "headerName": "Status", **_TEXT, "cellRenderer": "StatusBadge", "width": 115},
        {"field": "start_time", "headerName": "Start", **zoned("Start"), **_DATE, "cellRenderer": "LocalTime",
         "cellRendererParams": zone, "width": 180},
        {"field": "end_time", "headerName": "End", **zoned("End"), **_DATE, "cellRenderer": "LocalTime",
         "cellRendererParams": zone, "width": 180},
        {"field": "duration_seconds", "headerName": "Duration", **_NUMBER, "valueFormatter": None,
         "cellRenderer": "Duration", "width": 115},
        {"field": "records_processed", "headerName": "Processed", **_NUMBER, "width": 120},
        {"field": "records_created", "headerName": "Created", **_NUMBER, "width": 110},
        {"field": "records_updated", "headerName": "Updated", **_NUMBER, "width": 110},
        {"field": "records_failed", "headerName": "Failed", **_NUMBER, "width": 100},
        # the room left (size_by_content); narrow while no row in view has an error
        {"field": "error_message", "headerName": "Error", **_TEXT, "tooltipField": "error_message"},
    ]
    order = {column: index for index, (column, _) in enumerate(sort)}
    for column in columns:
        if column["field"] in order:
            column["sort"] = dict(sort)[column["field"]]
            column["sortIndex"] = order[column["field"]]
    return fit_to_phones(size_by_content(dag.AgGrid(
        id=ids.HISTORY_GRID,
        rowModelType="infinite",
        getRowId="params.data.row_id",  # the selection follows the run, not the position (a string id)
        columnDefs=columns,
        defaultColDef={"sortable": True, "resizable": True, "floatingFilter": False},
        filterModel=filter_model,
        dashGridOptions={
            "cacheBlockSize": 100, "maxBlocksInCache": 20, "infiniteInitialRowCount": 1,
            "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
            "tooltipShowDelay": 400,  # several sort columns: shift-click, AG Grid's default
        },
        className="history-grid",
        style={"height": "65vh", "width": "100%"},
    ), text=("error_message",)), PHONE_HIDES)  # on a phone a tap opens the run's drawer with every column
