"""The CRM sync status table: one row per CRM and sync type, grouped under its CRM.

A CRM with one sync type is one row. A CRM with several is a row collapsed to its worst state
(failed, then partial, unknown, running, success), with its most recent run's time and its
soonest next sync; a click on it shows a row per sync type beneath it. CRMs come worst first, so
a failing type is never hidden by another type's success. Rows are built from the records of
``/api/crm-status`` (``dashapp.payloads.dashboard.crm_statuses``) by ``grid_rows``; the cell renderers live
in assets/sync-monitor.js.
"""

from __future__ import annotations

import dash_ag_grid as dag

from dashapp.web import ids

_NUMBER = {"function": "formatCount(params.value)"}  # dashAgGridFunctions, assets/sync-monitor.js


WORST_FIRST = ("failed", "partial", None, "running", "success")
TYPE_FIELDS = ("sync_type", "last_sync", "status", "status_class", "records_processed", "records_created",
               "records_updated", "records_failed", "duration_seconds", "next_sync", "next_sync_source",
               "next_sync_note", "expected_seconds", "eta", "progress_percent", "overdue")


def grid_rows(crms: list[dict], expanded: list[str] | None) -> list[dict]:
    """The grid's rows: per CRM one row, followed by one per sync type when it is expanded."""
    opened = set(expanded or ())
    rows: list[dict] = []
    ordered = sorted(crms, key=lambda c: (WORST_FIRST.index(c.get("worst_status_class")), c["name"]))
    for crm in ordered:
        types = crm.get("sync_types") or []
        base = {"crm_source": crm["crm_source"], "name": crm["name"], "label": crm["name"]}
        if len(types) <= 1:
            only = types[0] if types else crm
            rows.append({**base, **{k: only.get(k) for k in TYPE_FIELDS}, "row_id": crm["crm_source"], "level": 0})
            continue
        is_open = crm["crm_source"] in opened
        worst = {"status": crm["worst_status"], "status_class": crm["worst_status_class"]}
        rows.append({**base, "label": ("▾ " if is_open else "▸ ") + crm["name"],
                     "row_id": crm["crm_source"], "level": 0, "expandable": True, "expanded": is_open,
                     "sync_type": f"{len(types)} sync types", "last_sync": crm["last_sync"], **worst,
                     **{k: crm.get(k) for k in ("next_sync", "next_sync_source", "next_sync_note")}})
        if is_open:
            rows += [{**base, **{k: t.get(k) for k in TYPE_FIELDS}, "label": "↳",
                      "row_id": f"{crm['crm_source']}/{t['sync_type']}", "level": 1} for t in types]
    return rows


def toggled(expanded: list[str] | None, clicked: dict | None, crms: list[dict]) -> list[str]:
    """``expanded`` with the clicked CRM row opened or closed (a click elsewhere changes nothing)."""
    opened = list(expanded or [])
    row_id = (clicked or {}).get("rowId")
    groups = {c["crm_source"] for c in crms if len(c.get("sync_types") or []) > 1}
    if row_id not in groups:
        return opened
    return [r for r in opened if r != row_id] if row_id in opened else [*opened, row_id]


def crm_status_grid(display_timezone: str | None) -> dag.AgGrid:
    zone = {"timeZone": display_timezone}
    columns = [
        {"field": "label", "headerName": "CRM", "pinned": "left", "minWidth": 150, "cellRenderer": "CrmName"},
        {"field": "sync_type", "headerName": "Sync type", "minWidth": 120},
        {"field": "last_sync", "headerName": "Last sync", "cellRenderer": "RelativeTime",
         "cellRendererParams": zone, "minWidth": 120},
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
        # unsorted: the rows keep their grouping (worst CRM first, its types beneath it)
        defaultColDef={"sortable": False, "resizable": True, "filter": False},
        getRowId={"function": "params.data.row_id"},
        getRowStyle={"styleConditions": [{"condition": "params.data.level === 1",
                                          "style": {"backgroundColor": "var(--bs-tertiary-bg)"}}]},
        dashGridOptions={"domLayout": "autoHeight"},
        columnSize="responsiveSizeToFit",
        className="crm-status-grid",
        style={"width": "100%"},
    )
