/* The path the app is served under (URL_PREFIX; dashapp/web/url_prefix.py), read from the prefix
   Dash puts in the page (_dash-config's requests_pathname_prefix), so links and requests the
   scripts make stay under it. Loaded first (Dash loads assets in name order).
   window.syncMonitorPath("/runs/7") is "/ingestion/monitoring/runs/7" under that prefix. */
(function () {
  "use strict";
  var prefix = null;

  function appPrefix() {
    if (prefix !== null) { return prefix; }
    var found = "/";
    try {
      var config = document.getElementById("_dash-config");
      var value = config && JSON.parse(config.textContent).requests_pathname_prefix;
      if (typeof value === "string" && value.charAt(0) === "/") { found = value; }
    } catch (e) { /* no config block: the app is at the root */ }
    prefix = found.charAt(found.length - 1) === "/" ? found : found + "/";
    return prefix;
  }

  window.syncMonitorPath = function (path) {  /* path: an app path starting with "/" */
    return appPrefix() + String(path).replace(/^\/+/, "");
  };
  window.syncMonitorPrefix = appPrefix;
})();
