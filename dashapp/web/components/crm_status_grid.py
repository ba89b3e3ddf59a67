"""The CRM sync status table: one row per CRM and sync type, grouped under its CRM.

The page shows one page of ``/api/crm-status`` (``dashapp.payloads.overview.crm_statuses``) at a
time, in its order: problems first (late, failing, unknown, running, on time, paused). A CRM with
one sync type is one row. A CRM with several is a row in its worst state, with its newest run, its
soonest next sync and the strip of its newest type's latest runs; a click on it shows a row per
sync type beneath it, each with its own state and strip.

``grid_rows`` turns a page of CRMs into every row the page can show (each type row of a CRM that
groups several names it as its ``parent``); the browser shows the rows whose parent is open
(``crmRows`` in assets/sync-monitor.js), so opening a CRM costs no request. The cell renderers
(``FreshnessState``, ``NextSync``, ``RunStrip``, ...) live in assets/sync-monitor.js too.
"""

from __future__ import annotations

import dash_ag_grid as dag

from dashapp.web import ids
from dashapp.web.components.grid_fit import size_by_content

_NUMBER = {"function": "formatCount(params.value)"}  # dashAgGridFunctions, assets/sync-monitor.js

STATE_FIELDS = ("state", "state_label", "state_reason", "expected_at", "overdue_seconds")
TYPE_FIELDS = ("sync_type", "last_sync", "status", "status_class", "records_processed", "records_created",
               "records_updated", "records_failed", "duration_seconds", "next_sync", "next_sync_source",
               "next_sync_note", "expected_seconds", "eta", "progress_percent", "overdue", *STATE_FIELDS)
PAGE_SIZE = 50  # CRMs a page


def _runs(sync: dict) -> list[dict]:
    """A sync's latest runs, oldest first (the strip reads left to right), ids as integers."""
    return [{"id": int(run["id"]), "status": run.get("status"), "status_class": run.get("status_class"),
             "start_time": run.get("start_time")} for run in reversed(sync.get("recent_runs") or [])]


def grid_rows(crms: list[dict]) -> list[dict]:
    """Every row of a page of CRMs, in the payload's order: per CRM one row, then, when it groups
    several sync types, one per type (``parent``: the CRM; shown while it is open)."""
    rows: list[dict] = []
    for crm in crms:
        types = crm.get("sync_types") or []
        base = {"crm_source": crm["crm_source"], "name": crm["name"], "label": crm["name"]}
        if len(types) <= 1:
            only = types[0] if types else crm
            rows.append({**base, **{k: only.get(k) for k in TYPE_FIELDS}, "recent_runs": _runs(only),
                         "row_id": crm["crm_source"], "level": 0})
            continue
        newest = next((t for t in types if t["sync_type"] == crm.get("sync_type")), None)
        rows.append({**base, "row_id": crm["crm_source"], "level": 0, "expandable": True,
                     "sync_type": f"{len(types)} sync types", "last_sync": crm["last_sync"],
                     "status": crm["worst_status"], "status_class": crm["worst_status_class"],
                     "recent_runs": _runs(newest) if newest else [],
                     "recent_runs_of": newest["sync_type"] if newest else None,
                     **{k: crm.get(k) for k in ("next_sync", "next_sync_source", "next_sync_note", *STATE_FIELDS)}})
        rows += [{**base, **{k: t.get(k) for k in TYPE_FIELDS}, "label": "↳", "recent_runs": _runs(t),
                  "row_id": f"{crm['crm_source']}/{t['sync_type']}", "level": 1, "parent": crm["crm_source"]}
                 for t in types]
    return rows


def groups(crms: list[dict]) -> list[str]:
    """The CRMs of a page that group several sync types (a click opens them)."""
    return [c["crm_source"] for c in crms if len(c.get("sync_types") or []) > 1]


def toggled(expanded: list[str] | None, clicked: dict | None, grouped: list[str] | None) -> list[str]:
    """``expanded`` with the clicked CRM row opened or closed (a click elsewhere changes nothing)."""
    opened = list(expanded or [])
    row_id = (clicked or {}).get("rowId")
    if row_id not in set(grouped or ()):
        return opened
    return [r for r in opened if r != row_id] if row_id in opened else [*opened, row_id]


FILTERED = {"late": "a late sync", "failing": "a failing sync", "unknown": "a sync in an unknown state",
            "running": "a running sync", "on_time": "a sync on time", "paused": "a paused sync"}


def count_line(total: int, offset: int, shown: int, search: str = "", state: str | None = None) -> str:
    """``1–50 of 5,000 CRMs``, naming the search and the state filter when there are any."""
    filters = [f"with {FILTERED[state]}" if state in FILTERED else "", f"matching “{search}”" if search else ""]
    suffix = "".join(" " + f for f in filters if f)
    if total == 0:
        return f"No CRM{suffix}." if suffix else "No CRM to show yet."
    return f"{offset + 1:,}–{offset + shown:,} of {total:,} {'CRM' if total == 1 else 'CRMs'}{suffix}"


def crm_status_grid(display_timezone: str | None) -> dag.AgGrid:
    zone = {"timeZone": display_timezone}
    columns = [  # widths: each column's content's (size_by_content; the strip keeps its own)
        {"field": "label", "headerName": "CRM", "pinned": "left", "width": 150, "minWidth": 130,
         "cellRenderer": "CrmName"},
        {"field": "state_label", "headerName": "State", "cellRenderer": "FreshnessState", "width": 118,
         "minWidth": 112},
        {"field": "sync_type", "headerName": "Sync type", "width": 130, "minWidth": 110},
        {"field": "next_sync", "headerName": "Next sync", "cellRenderer": "NextSync",
         "cellRendererParams": zone, "width": 160, "minWidth": 150},
        # no field: the row detail on phones lists fields, and a strip is no text; hidden on phones
        {"colId": "recent_runs", "headerName": "Last 30 runs", "cellRenderer": "RunStrip", "width": 250,
         "minWidth": 250, "suppressSizeToFit": True, "cellRendererParams": zone, "headerClass": "sm-secondary"},
        {"field": "last_sync", "headerName": "Last sync", "cellRenderer": "RelativeTime",
         "cellRendererParams": zone, "width": 110, "minWidth": 100},
        {"field": "status", "headerName": "Status", "cellRenderer": "StatusBadge", "width": 105, "minWidth": 95},
        {"field": "records_processed", "headerName": "Processed", "type": "rightAligned",
         "valueFormatter": _NUMBER, "width": 110, "minWidth": 108},
        {"field": "records_created", "headerName": "Created", "type": "rightAligned",
         "valueFormatter": _NUMBER, "width": 92, "minWidth": 90},
        {"field": "records_updated", "headerName": "Updated", "type": "rightAligned",
         "valueFormatter": _NUMBER, "width": 97, "minWidth": 95},
        {"field": "duration_seconds", "headerName": "Duration", "type": "rightAligned",
         "cellRenderer": "Duration", "width": 130, "minWidth": 100},
    ]
    return size_by_content(dag.AgGrid(
        id=ids.CRM_STATUS_GRID,
        rowData=[],
        columnDefs=columns,
        # unsorted: the rows keep the payload's order (problems first, each CRM's types beneath it)
        defaultColDef={"sortable": False, "resizable": True, "filter": False},
        getRowId={"function": "params.data.row_id"},
        getRowStyle={"styleConditions": [{"condition": "params.data.level === 1",
                                          "style": {"backgroundColor": "var(--bs-tertiary-bg)"}}]},
        dashGridOptions={"domLayout": "autoHeight"},
        # no columnSize: sized by content (a fit to the width may not cut Duration or a state)
        className="crm-status-grid",
        style={"width": "100%"},
    ))
