/* Sync Monitor's browser side: time formatting in the viewer's zone, AG Grid cell renderers,
   and the clientside callbacks of the refresh bar. No data is made here: every value arrives
   from the server; this file only formats it. */
(function () {
  "use strict";

  var UNITS = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];

  /* View settings (dashapp/components/view_settings.py): theme and clock, kept in localStorage. */
  var THEME_KEY = "sm-theme", CLOCK_KEY = "sm-clock";
  var THEME_LABELS = { system: "Theme: System", light: "Theme: Light", dark: "Theme: Dark" };  /* the menu's words */

  function stored(key, allowed, fallback) {
    try {
      var value = window.localStorage.getItem(key);
      return allowed.indexOf(value) >= 0 ? value : fallback;
    } catch (e) { return fallback; }
  }

  function remember(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: this page only */ }
  }

  function systemDark() {
    return !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  }

  function themeChoice() { return stored(THEME_KEY, ["system", "light", "dark"], "system"); }

  function effectiveMode(choice) {
    return choice === "dark" || (choice !== "light" && systemDark()) ? "dark" : "light";
  }

  function applyMode(mode) {  /* Bootstrap and AG Grid read these attributes on <html> */
    var root = document.documentElement;
    if (root.getAttribute("data-bs-theme") !== mode) { root.setAttribute("data-bs-theme", mode); }
    if (root.getAttribute("data-ag-theme-mode") !== mode) { root.setAttribute("data-ag-theme-mode", mode); }
  }

  applyMode(effectiveMode(themeChoice()));  /* before the first render: no white flash in a dark room */

  var currentZone = null;  /* the zone every time is shown in; set by viewerTimezone */

  function zoneOf(props) { return currentZone || (props && props.timeZone) || undefined; }

  function zoneName(zone) {  /* "UTC", "CET", "EST", "GMT+5:30": the short name of a zone now */
    if (!zone || zone === "UTC" || zone === "Etc/UTC") { return "UTC"; }
    try {
      var parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "short" }).formatToParts(new Date());
      for (var i = 0; i < parts.length; i++) { if (parts[i].type === "timeZoneName") { return parts[i].value; } }
    } catch (e) { /* an unknown zone: its name */ }
    return zone;
  }

  function refreshGrids() {  /* the zone changed: cells and headers render again in it */
    if (!window.dash_ag_grid || !window.dash_ag_grid.getApi) { return; }
    var hosts = document.querySelectorAll(".ag-root-wrapper");
    for (var i = 0; i < hosts.length; i++) {
      var host = hosts[i].parentElement && hosts[i].parentElement.closest("div[id]");
      if (!host) { continue; }
      try {
        var api = window.dash_ag_grid.getApi(host.id);
        api.refreshHeader();
        api.refreshCells({ force: true });
      } catch (e) { /* not a grid, or not ready yet: it renders in the new zone when it is */ }
    }
  }

  function timeless(iso) {  /* "infinity", "-infinity" (PostgreSQL's infinite times): no date to show */
    return isNaN(Date.parse(iso));
  }

  /* The moment the page shows (its address's at: as-of.js), else now: what relative times count from. */
  function shownNow() {
    return typeof window.syncMonitorNow === "function" ? window.syncMonitorNow() : Date.now();
  }

  function relative(iso, nowMs) {
    if (!iso || timeless(iso)) { return ""; }
    var seconds = Math.round((Date.parse(iso) - nowMs) / 1000);
    var abs = Math.abs(seconds);
    if (abs < 10) { return "just now"; }
    for (var i = 0; i < UNITS.length; i++) {
      var unit = UNITS[i];
      if (abs >= unit[1] || unit[1] === 1) {
        var n = Math.floor(abs / unit[1]);
        return seconds < 0 ? n + " " + unit[0] + " ago" : "in " + n + " " + unit[0];
      }
    }
    return "";
  }

  function absolute(iso, zone) {
    if (!iso) { return ""; }
    if (timeless(iso)) { return String(iso); }
    var options = { year: "numeric", month: "short", day: "numeric", hour: "2-digit",
                    minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short" };
    if (zone) { options.timeZone = zone; }
    return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
  }

  function clockTime(iso, zone) {
    if (timeless(iso)) { return String(iso); }
    var options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    if (zone) { options.timeZone = zone; }
    return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) { return "—"; }
    var s = Math.round(seconds);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    if (h) { return h + "h " + m + "m"; }
    if (m) { return m + "m " + r + "s"; }
    return r + "s";
  }

  function formatCount(value) {
    return value === null || value === undefined ? "—" : Number(value).toLocaleString("en-US");
  }

  function formatMs(value) {  /* latencies: whole milliseconds, 28926.192 -> "28,926" */
    return value === null || value === undefined ? "—" :
      Number(value).toLocaleString("en-US", { maximumFractionDigits: 0 });
  }

  var BADGES = { success: "success", failed: "danger", running: "primary", partial: "warning",
                 queued: "info", resolved: "success", abandoned: "dark" };

  window.syncMonitor = {
    relative: relative, absolute: absolute, duration: duration, formatCount: formatCount, formatMs: formatMs,
    zone: function () { return currentZone; }, zoneName: zoneName
  };

  function formatPercent(value) {  /* an error rate in percent: 2.35 -> "2.35%" */
    return value === null || value === undefined ? "—" :
      Number(value).toLocaleString("en-US", { maximumFractionDigits: 2 }) + "%";
  }

  function acknowledged(data) {  /* the alerts history's Acknowledged: "alice · 2026-12-06 06:50:00" */
    if (!data || (!data.acknowledged_by && !data.acknowledged_at)) { return ""; }
    return (data.acknowledged_by || "someone") +
      (data.acknowledged_at ? " · " + compact(data.acknowledged_at, zoneOf()) : "");
  }

  var functions = window.dashAgGridFunctions = window.dashAgGridFunctions || {};
  functions.formatCount = formatCount;
  functions.formatMs = formatMs;
  functions.formatPercent = formatPercent;
  functions.acknowledged = acknowledged;
  var PHONE_PX = 576;  /* dashapp/components/grid_fit.py */

  function marked(column, mark) { return String(column.getColDef().headerClass || "").split(" ").indexOf(mark) >= 0; }

  functions.fitColumns = function (params) {  /* phones: status first, secondary columns hidden */
    var api = params && params.api;
    if (!api || !api.getColumns || !api.getColumns()) { return; }
    var narrow = window.innerWidth < PHONE_PX;
    var columns = api.getColumns();
    var secondary = columns.filter(function (c) { return marked(c, "sm-secondary"); })
      .map(function (c) { return c.getColId(); });
    var visible = columns.filter(function (c) { return marked(c, "sm-secondary") && c.isVisible(); }).length;
    if (secondary.length && (narrow ? visible > 0 : visible < secondary.length)) {
      api.setColumnsVisible(secondary, !narrow);
    }
    var first = columns.filter(function (c) { return marked(c, "sm-first"); })[0];
    if (narrow && first) {
      if (first.getPinned()) { api.setColumnsPinned([first.getColId()], null); }
      var pinned = columns.filter(function (c) { return c.getPinned() === "left"; }).map(function (c) { return c.getColId(); });
      if (pinned.length) { api.setColumnsPinned(pinned, null); }
      if (api.getAllDisplayedColumns()[0] !== first) { api.moveColumns([first.getColId()], 0); }
    }
  };

  /* Grids sized by content (dashapp/web/components/grid_fit.py, size_by_content): "sm-fit" columns
     (status, numbers, times) take the width of what they show, header included, so they are never
     cut; "sm-text" columns (error, summary, note) share what is left, and one whose every loaded
     cell is empty shrinks to its header. With no free text shown, the spare room is spread over
     every column, none narrower than its content. Debounced: rows, sizes and columns change in
     bursts. */
  function emptyValue(v) { return v === null || v === undefined || v === ""; }

  function sizeNow(api) {
    if (!api || (api.isDestroyed && api.isDestroyed()) || !api.getColumns || !api.getColumns()) { return; }
    var root = rootOf(api);
    if (root) { api.smSized = sizeKey(api, root); }
    var shown = api.getColumns().filter(function (c) { return c.isVisible(); });
    var rows = [];
    api.forEachNode(function (node) { if (node.data) { rows.push(node.data); } });
    var text = shown.filter(function (c) { return marked(c, "sm-text"); });
    var state = [], shrunk = [], flexing = 0;
    text.forEach(function (c) {
      var field = c.getColDef().field;
      var empty = rows.length > 0 && rows.every(function (r) { return emptyValue(r[field]); });
      if (empty) {
        shrunk.push(c.getColId());
        if (c.getFlex()) { state.push({ colId: c.getColId(), flex: null }); }
      } else {
        flexing += 1;
        if (!c.getFlex()) { state.push({ colId: c.getColId(), flex: c.getColDef().flex || 1 }); }
      }
    });
    if (state.length) { api.applyColumnState({ state: state }); }
    var fit = shown.filter(function (c) { return marked(c, "sm-fit"); })
      .map(function (c) { return c.getColId(); }).concat(shrunk);
    if (fit.length) {
      api.autoSizeColumns(fit, true);  /* the cells' width; the header wraps, down to its longest word */
      var wider = [];
      fit.forEach(function (id) {
        var cell = root && root.querySelector('.ag-header-cell[col-id="' + id.replace(/"/g, '\\"') + '"]');
        var need = cell ? headerNeed(cell) : 0, column = api.getColumn(id);
        if (column && need > column.getActualWidth()) { wider.push({ key: id, newWidth: need }); }
      });
      if (wider.length) { api.setColumnWidths(wider); }
    }
    if (!flexing) {
      var limits = shown.filter(function (c) { return !c.getColDef().suppressSizeToFit; })
        .map(function (c) { return { key: c.getColId(), minWidth: c.getActualWidth() }; });
      api.sizeColumnsToFit({ columnLimits: limits });
    }
  }

  var measurer = null;

  function textWidth(text, font) {
    measurer = measurer || document.createElement("canvas").getContext("2d");
    measurer.font = font;
    return measurer.measureText(text).width;
  }

  /* The least width a header needs to wrap without cutting a word: its longest word, plus what
     sits beside its text (padding, the filter and menu buttons, a sort arrow). */
  function headerNeed(cell) {
    var text = cell.querySelector(".ag-header-cell-text");
    if (!text || !text.textContent) { return 0; }
    var label = text.parentElement;
    var beside = cell.getBoundingClientRect().width - label.getBoundingClientRect().width;
    Array.prototype.forEach.call(label.children, function (child) {
      if (child !== text) { beside += child.getBoundingClientRect().width; }
    });
    var font = window.getComputedStyle(text).font, longest = 0;
    text.textContent.split(/\s+/).forEach(function (word) { longest = Math.max(longest, textWidth(word, font)); });
    return Math.ceil(longest + beside + 6);
  }

  function rootOf(api) {  /* the grid's element: the host whose id dash-ag-grid knows this api by */
    var hosts = document.querySelectorAll(".ag-root-wrapper");
    for (var i = 0; i < hosts.length; i++) {
      var host = hosts[i].parentElement && hosts[i].parentElement.closest("div[id]");
      try {
        if (host && window.dash_ag_grid && window.dash_ag_grid.getApi(host.id) === api) { return hosts[i]; }
      } catch (e) { /* not a grid yet */ }
    }
    return null;
  }

  functions.sizeColumns = function (params) {
    var api = params && params.api;
    if (!api) { return; }
    if (api.smSizing) { clearTimeout(api.smSizing); }
    api.smSizing = setTimeout(function () {
      api.smSizing = null;
      try { sizeNow(api); } catch (e) { /* destroyed meanwhile: the next grid sizes itself */ }
    }, 60);
  };

  function sizeKey(api, root) { return api.getDisplayedRowCount() + ":" + root.clientWidth; }

  /* A grid whose first rows came before dash-ag-grid attached its listeners would wait for its
     next refresh: once a second, any grid whose rows or width changed since it was last sized
     is fitted and sized now. */
  function sweepGrids() {
    if (!window.dash_ag_grid || !window.dash_ag_grid.getApi) { return; }
    var roots = document.querySelectorAll(".ag-root-wrapper");
    for (var i = 0; i < roots.length; i++) {
      if (!roots[i].querySelector(".ag-header-cell.sm-fit, .ag-header-cell.sm-text")) { continue; }
      var host = roots[i].parentElement && roots[i].parentElement.closest("div[id]"), api = null;
      try { api = host && window.dash_ag_grid.getApi(host.id); } catch (e) { api = null; }
      if (!api || api.smSizing || (api.isDestroyed && api.isDestroyed()) || api.smSized === sizeKey(api, roots[i])) {
        continue;
      }
      functions.fitColumns({ api: api });
      functions.sizeColumns({ api: api });
    }
  }

  setInterval(sweepGrids, 1000);

  functions.zoneHeader = function (name) { return name + " (" + zoneName(currentZone || "UTC") + ")"; };

  var React = window.React;
  var renderers = window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {};

  function useTicking(ms) {  /* re-render every ms, so "2 min ago" stays true between refreshes */
    var state = React.useState(0);
    React.useEffect(function () {
      var timer = setInterval(function () { state[1](function (n) { return n + 1; }); }, ms);
      return function () { clearInterval(timer); };
    }, [ms]);
  }

  renderers.RelativeTime = function (props) {
    useTicking(5000);
    if (!props.value) { return React.createElement("span", { className: "text-muted" }, "—"); }
    return React.createElement("span", {
      title: absolute(props.value, zoneOf(props)), className: "relative-time",
      "data-iso": props.value
    }, relative(props.value, shownNow()));
  };

  var NEXT_SOURCES = { beat: "from Celery beat's task (its interval or crontab after its last run)",
                       schedule: "from the sync_schedule row's own fields",
                       estimated: "estimated: the latest run plus the schedule's interval" };

  function span(seconds) {  /* 35 min, 2 h 5 min, 3 d 4 h: how long, to the minute */
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) { return s + " s"; }
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) { return d + " d" + (h ? " " + h + " h" : ""); }
    if (h) { return h + " h" + (m ? " " + m + " min" : ""); }
    return m + " min";
  }

  renderers.NextSync = function (props) {
    /* "in 4 min"; "due now" once its time passed; a late sync: "overdue by 35 min", counted from
       when its run was due (expected_at), so the time it names never moves while the text grows */
    useTicking(5000);
    var data = props.data || {};
    var why = data.next_sync_note;
    var source = NEXT_SOURCES[data.next_sync_source] || "";
    var zone = zoneOf(props);
    var hover = (source ? " · " + source : "") + (why ? " · " + why : "");
    if (data.state === "late" && data.expected_at) {
      return React.createElement("span", {
        title: "was due " + absolute(data.expected_at, zone) +
          (props.value ? " · next firing " + absolute(props.value, zone) : "") + hover,
        className: "next-sync overdue text-danger-emphasis fw-semibold", "data-expected": data.expected_at,
        "data-iso": props.value || "", "data-source": data.next_sync_source || ""
      }, "overdue by " + span((shownNow() - Date.parse(data.expected_at)) / 1000));
    }
    if (!props.value) {
      return React.createElement("span", { className: "text-muted small", title: why || "" }, "— " + (why || ""));
    }
    var past = Date.parse(props.value) <= shownNow();
    return React.createElement("span", {
      title: (past ? "was due " : "") + absolute(props.value, zone) + hover,
      className: "relative-time next-sync" + (past ? " text-warning-emphasis" : ""), "data-iso": props.value,
      "data-source": data.next_sync_source || ""
    }, past ? "due now" : relative(props.value, shownNow()));
  };

  var FRESHNESS = { late: 1, failing: 1, unknown: 1, running: 1, queued: 1, on_time: 1, paused: 1 };

  renderers.FreshnessState = function (props) {  /* the state in words and colour; its reason on hover */
    var data = props.data || {};
    if (!FRESHNESS[data.state]) { return React.createElement("span", { className: "text-muted" }, "—"); }
    return React.createElement("span", {
      className: "badge freshness-state freshness-" + data.state, title: data.state_reason || "",
      "data-state": data.state
    }, props.value || data.state);
  };

  var TICKS = { success: "success", failed: "failed", partial: "partial", running: "running" };

  renderers.RunStrip = function (props) {  /* a sync's latest runs, oldest left: each a tick linking to its page */
    var data = props.data || {};
    var runs = Array.isArray(data.recent_runs) ? data.recent_runs : [];
    if (!runs.length) { return React.createElement("span", { className: "text-muted" }, "—"); }
    var zone = zoneOf(props);
    var ticks = [];
    runs.forEach(function (run) {
      var id = Number(run && run.id);
      if (!isFinite(id) || Math.floor(id) !== id || id < 0) { return; }
      var label = "#" + id + " " + (run.status === null || run.status === undefined ? "unknown" : String(run.status)) +
        (run.start_time ? " " + compact(run.start_time, zone) + " " + zoneName(zone || "UTC") : "");
      ticks.push(React.createElement("a", {
        key: id, href: window.syncMonitorPath("/runs/" + id), title: label, "aria-label": label, "data-run-id": String(id),
        className: "run-tick run-tick-" + (TICKS[run.status_class] || "unknown")
      }));
    });
    return React.createElement("span", {
      className: "run-strip", role: "group",
      "aria-label": "latest runs, oldest first" + (data.recent_runs_of ? " (" + data.recent_runs_of + ")" : ""),
      title: data.recent_runs_of ? "its newest sync type's runs: " + data.recent_runs_of : undefined
    }, ticks);
  };

  renderers.CrmName = function (props) {  /* the CRM, a link to its history; a group row's caret opens it */
    var data = props.data || {};
    if (data.level === 1) { return React.createElement("span", { className: "text-muted ps-3" }, props.value); }
    var link = React.createElement(renderers.CrmHistoryLink,
      Object.assign({}, props, { value: data.name, data: Object.assign({}, data, { sync_type: data.expandable ? null : data.sync_type }) }));
    if (!data.expandable) { return link; }
    return React.createElement("span", null,
      React.createElement("span", { className: "crm-group me-1", role: "button",
        title: data.expanded ? "hide its sync types" : "show each sync type" }, data.expanded ? "▾" : "▸"),
      link);
  };

  function compact(iso, zone) {  /* 2026-11-20 14:03:22, in the viewer's zone; year 1 as 0001 */
    if (timeless(iso)) { return String(iso); }
    var options = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
                    second: "2-digit", hour12: false };
    if (zone) { options.timeZone = zone; }
    var parts = {};
    new Intl.DateTimeFormat("en-US", options).formatToParts(new Date(iso)).forEach(function (p) {
      parts[p.type] = p.value;
    });
    return ("000" + parts.year).slice(-4) + "-" + parts.month + "-" + parts.day + " " + (parts.hour === "24" ? "00" : parts.hour) +
      ":" + parts.minute + ":" + parts.second;
  }

  renderers.LocalTime = function (props) {
    useTicking(30000);
    if (!props.value) { return React.createElement("span", { className: "text-muted" }, "—"); }
    return React.createElement("span", {
      title: absolute(props.value, zoneOf(props)) + (timeless(props.value) ? "" : " (" + relative(props.value, shownNow()) + ")")
    }, compact(props.value, zoneOf(props)));
  };

  renderers.RunLink = function (props) {  /* opens the run's own page */
    if (props.value === null || props.value === undefined) { return ""; }
    return React.createElement("a", { href: window.syncMonitorPath("/runs/" + encodeURIComponent(props.value)), className: "run-link" },
      "#" + props.value);
  };

  renderers.CrmHistoryLink = function (props) {  /* a CRM row opens that CRM's history */
    var data = props.data || {};
    if (!data.crm_source) { return props.value || ""; }
    var query = "?range=7d&crm_source=" + encodeURIComponent(data.crm_source) +
      (data.sync_type ? "&sync_type=" + encodeURIComponent(data.sync_type) : "");
    return React.createElement("a", { href: window.syncMonitorPath("/history" + query), className: "crm-history-link",
      title: "This CRM's runs in the history" }, props.value);
  };

  renderers.AlertSubject = function (props) {  /* "hubspot/contacts run 42": the run links to its page */
    var subject = props.value === null || props.value === undefined ? "" : String(props.value);
    var found = /^(.*) run (\d+)$/.exec(subject);
    if (!found) { return subject; }
    return React.createElement("span", null, found[1] + " ",
      React.createElement("a", { href: window.syncMonitorPath("/runs/" + found[2]), className: "run-link" }, "run #" + found[2]));
  };

  renderers.StatusBadge = function (props) {  /* the raw value, coloured by its class (completed: green) */
    var status = props.value === null || props.value === undefined ? "unknown" : String(props.value);
    var data = props.data || {};
    var kind = data.status_class !== undefined ? (data.status_class || "unknown") : status;
    var colour = BADGES[kind] || "secondary";
    var cls = "badge status-badge text-bg-" + colour + (kind === "running" ? " status-running" : "");
    var title = kind === status ? "" : (kind === "unknown" ? "a status in no class: counted nowhere" : "counted as " + kind);
    return React.createElement("span", { className: cls, title: title }, status);
  };

  renderers.Attempts = function (props) {  /* "1 / 3" retries used of the cap */
    var data = props.data || {};
    return React.createElement("span", { title: "retries so far / attempt cap" },
      String(data.attempts || 0) + " / " + String(data.max_attempts || "?"));
  };

  renderers.Duration = function (props) {
    var data = props.data || {};
    var running = (data.status_class !== undefined ? data.status_class : data.status) === "running";
    if (running && data.expected_seconds) {  /* elapsed against the usual: a bar, and "overdue" past p95 */
      var pct = Math.min(data.progress_percent || 0, 100);
      return React.createElement("span", { className: "run-progress", title: "usually " + duration(data.expected_seconds) +
          (data.eta ? "; expected to finish " + absolute(data.eta) : "") },
        duration(props.value) + " / ~" + duration(data.expected_seconds) + " ",
        data.overdue ? React.createElement("span", { className: "badge text-bg-danger" }, "overdue") :
          React.createElement("span", { className: "progress d-inline-flex align-middle", style: { width: "50px", height: "6px" } },
            React.createElement("span", { className: "progress-bar", style: { width: pct + "%" } })));
    }
    return React.createElement("span", { title: running ? "running so far" : "" },
      duration(props.value) + (running ? " …" : ""));
  };

  /* A cell as its grid formats it, in words (the phone's row detail): the column's own formatter
     ("formatMs(params.value)", "acknowledged(params.data)"), a renderer's text (a duration, a time
     in the viewer's zone), else the value; never a raw decimal like 575.281. */
  var FORMATTER = /^\s*(\w+)\(params(?:\.(value|data))?\s*(?:,\s*'(\w+)')?\)\s*$/;

  function cellText(column, value, row) {
    var formatter = column && column.valueFormatter && column.valueFormatter.function;
    var found = typeof formatter === "string" ? FORMATTER.exec(formatter) : null;
    if (found && typeof functions[found[1]] === "function") {
      var arg = found[2] === "value" ? value : found[2] === "data" ? row :
        { value: value, data: row, colDef: column };
      var text = found[3] ? functions[found[1]](arg, found[3]) : functions[found[1]](arg);
      if (!emptyValue(text)) { return String(text); }
    }
    if (emptyValue(value)) { return "—"; }
    var renderer = column && column.cellRenderer;
    if (renderer === "Duration" || column.field === "duration_seconds") { return duration(value); }
    if (typeof value === "number") { return formatCount(value); }
    if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) {
      return absolute(value, currentZone || undefined);
    }
    return String(value);
  }

  var lastThemeLabel = null;

  /* Whether the history grid's last answer was a failed first block with nothing read before: its
     one row is left loading, and its next refresh starts the grid afresh (keepHistoryRows). */
  var historyUnread = false;

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.syncMonitor = {
    stampReceived: function (state) { return Date.now(); },

    chooseTheme: function () {
      var picked = { "theme-system": "system", "theme-light": "light", "theme-dark": "dark" };
      var id = window.dash_clientside.callback_context.triggered_id;
      if (picked[id]) { remember(THEME_KEY, picked[id]); return picked[id]; }
      return themeChoice();
    },

    themeMode: function (choice, tick, current) {  /* every second: the system may have changed */
      var nu = window.dash_clientside.no_update;
      var mode = effectiveMode(choice || themeChoice());
      applyMode(mode);
      var label = THEME_LABELS[choice || "system"];
      var labelChanged = label !== lastThemeLabel;
      lastThemeLabel = label;
      return [mode === current ? nu : mode, labelChanged ? label : nu];
    },

    rowDetail: function (clicked, columns, rows, skip) {  /* a phone's tap: every column of the row */
      var nu = window.dash_clientside.no_update;
      if (!clicked || window.innerWidth >= PHONE_PX || (skip || []).indexOf(clicked.colId) >= 0) { return [nu, nu]; }
      var row = null;
      (rows || []).forEach(function (r) { if (r && r.row_id !== undefined && String(r.row_id) === clicked.rowId) { row = r; } });
      if (!row && rows && rows[clicked.rowIndex]) { row = rows[clicked.rowIndex]; }
      if (!row) { return [nu, nu]; }
      var lines = (columns || []).filter(function (c) { return c.field; }).map(function (c) {
        var value = row[c.field], shown = cellText(c, value, row);
        return { type: "Tr", namespace: "dash_html_components", props: { children: [
          { type: "Th", namespace: "dash_html_components", props: { children: c.headerName || c.field } },
          { type: "Td", namespace: "dash_html_components", props: { children: shown, className: "text-break" } }
        ] } };
      });
      return [{ type: "Table", namespace: "dash_html_components", props: {
        className: "table table-sm row-detail mb-0",
        children: { type: "Tbody", namespace: "dash_html_components", props: { children: lines } } } }, true];
    },

    zoneNote: function (zone) { return "in " + zoneName(zone || "UTC"); },

    cellText: function (column, value, row) { return cellText(column, value, row); },

    crmRows: function (rows, expanded) {  /* the overview's CRM rows: a CRM's types beneath it while it is open */
      var open = {};
      (Array.isArray(expanded) ? expanded : []).forEach(function (id) { open[id] = true; });
      var shown = [];
      (Array.isArray(rows) ? rows : []).forEach(function (row) {
        if (!row) { return; }
        if (row.parent !== undefined && row.parent !== null) {
          if (open[row.parent] === true) { shown.push(row); }
          return;
        }
        if (row.expandable) {
          var isOpen = open[row.row_id] === true;
          shown.push(Object.assign({}, row, { expanded: isOpen, label: (isOpen ? "▾ " : "▸ ") + row.name }));
          return;
        }
        shown.push(row);
      });
      return shown;
    },

    chooseClock: function () {
      var now = stored(CLOCK_KEY, ["local", "utc"], "local");
      if (window.dash_clientside.callback_context.triggered_id === "clock-toggle") {
        now = now === "utc" ? "local" : "utc";
        remember(CLOCK_KEY, now);
      }
      return now;
    },

    pageZone: function (_trigger, config, choice) {  /* the zone alone, for a page's own store */
      var local = (config && config.display_timezone) || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
      return choice === "utc" ? "UTC" : local;
    },

    viewerTimezone: function (config, choice) {
      var local = (config && config.display_timezone) || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
      var zone = choice === "utc" ? "UTC" : local;
      var changed = zone !== currentZone;
      currentZone = zone;
      document.cookie = "sm-zone=" + encodeURIComponent(zone) + "; path=" + window.syncMonitorPrefix() + "; max-age=31536000; SameSite=Lax";
      if (changed) { refreshGrids(); }
      var label = choice === "utc" ? "Times: UTC" : "Times: local (" + zoneName(zone) + ")";
      var title = choice === "utc" ? "Times are shown in UTC: click for your local zone (" + local + ")" :
        "Times are shown in " + local + ": click for UTC";
      return [zone, label, title];
    },

    purgeHistoryGrid: function () {  /* quick filters changed: the grid asks for its rows again */
      var api = window.dash_ag_grid && window.dash_ag_grid.getApi("history-grid");
      historyUnread = false;
      if (api) { api.purgeInfiniteCache(); }
      return Date.now();
    },

    keepHistoryRows: function (failed, request) {
      /* A block of rows could not be read (the database down, a filter it cannot apply): the grid is
         answered with the rows it already shows there and the row count it has, so nothing moves,
         and its next refresh asks again. Not answering would leave the block loading, and AG Grid
         loads at most two at once: two failures and it never asks again. Answering 0 rows would
         empty the grid, and dash-ag-grid's next answer after a 0 goes through a deferred path a
         re-render can cancel. With nothing read yet, one row is left loading under the message. */
      var nu = window.dash_clientside.no_update;
      var api = window.dash_ag_grid && window.dash_ag_grid.getApi("history-grid");
      if (!failed || !api || !request || typeof request.startRow !== "number") { return nu; }
      var end = typeof request.endRow === "number" ? request.endRow : request.startRow + 100;
      var rows = [];
      api.forEachNode(function (node) {  /* the blocks the grid holds: none is created by looking */
        if (node.data && node.rowIndex >= request.startRow && node.rowIndex < end) {
          rows[node.rowIndex - request.startRow] = node.data;
        }
      });
      var held = [];
      for (var i = 0; i < rows.length && rows[i]; i++) { held.push(rows[i]); }
      if (!held.length && request.startRow === 0) {
        historyUnread = true;
        return { rowData: [], rowCount: 1 };
      }
      return { rowData: held, rowCount: api.isLastRowIndexKnown() ? api.getInfiniteRowCount() : null };
    },

    refreshHistoryGrid: function () {  /* like the other pages' refresh: the rows in view reload in place,
                                          the scroll position and the selected run (by its id) stay */
      if (document.hidden) { return window.dash_clientside.no_update; }
      var api = window.dash_ag_grid && window.dash_ag_grid.getApi("history-grid");
      if (api && historyUnread) {  /* one row said to be all there is: ask afresh, the count unknown */
        historyUnread = false;
        api.purgeInfiniteCache();
      } else if (api) { api.refreshInfiniteCache(); }
      return Date.now();
    },

    pushSearch: function (search, detailOpen) {
      if (typeof search !== "string") { return window.dash_clientside.no_update; }
      var shown = new URLSearchParams(window.location.search).get("id");
      if (detailOpen && shown && /^\d+$/.test(shown)) {  /* the open run stays in a shareable URL */
        search += (search ? "&" : "?") + "id=" + shown;
      }
      if (search !== window.location.search) {
        window.history.pushState({}, "", window.location.pathname + search);
      }
      return search;
    },

    dropRunFromUrl: function (open) {  /* the history's run panel closed: its id leaves the URL */
      var params = new URLSearchParams(window.location.search);
      if (open || !params.has("id")) { return window.dash_clientside.no_update; }
      params.delete("id");
      var search = params.toString();
      window.history.replaceState({}, "", window.location.pathname + (search ? "?" + search : ""));
      return Date.now();
    },

    alertRequest: function (acks, resolves, confirm, target, note) {
      /* A click on the alerts page becomes a request in a Store, which the server acts on: the
         buttons are re-rendered at every refresh, and a server callback fed by them would be
         called again then, dropping the answer of one still on its way. */
      var dc = window.dash_clientside, nu = dc.no_update, cc = dc.callback_context;
      var clicked = cc.triggered && cc.triggered.length && cc.triggered[0].value;
      var id = cc.triggered_id;
      if (!clicked) { return [nu, nu, nu]; }
      if (id && id.type === "alert-resolve") { return [nu, true, id.index]; }
      if (id && id.type === "alert-acknowledge") {
        return [{ id: id.index, action: "acknowledge", note: "", at: Date.now() }, nu, nu];
      }
      if (target === null || target === undefined) { return [nu, nu, nu]; }
      return [{ id: target, action: "resolve", note: note || "", at: Date.now() }, false, null];
    },

    refreshStatus: function (tick, received, state, config) {
      var zone = currentZone || (config && config.display_timezone) || "UTC";
      var every = (state && state.every) || (config && config.refresh_seconds) || 30;
      if (!state) { return ["loading…", "", false]; }
      var left = every;
      if (received) { left = Math.max(0, every - Math.floor((Date.now() - received) / 1000) % every); }
      var updated = state.updated_at ? "updated " + clockTime(state.updated_at, zone) + " " + zoneName(zone) :
        "not loaded yet";
      var text = updated + ", next in " + left + "s";
      if (state.ok) { return [text, "", false]; }
      var banner = "Refresh failed: " + state.error +
        (state.updated_at ? " — showing the numbers from " + clockTime(state.updated_at, zone) + "." : "");
      return [text, banner, true];
    }
  };
})();
