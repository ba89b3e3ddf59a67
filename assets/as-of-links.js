/* Pages shown as of a past moment (their URL's ?at=...): links from their grids keep that moment,
   and the API-usage page's reset countdowns count from it instead of ticking with the clock. */
(function () {
  "use strict";

  function pageAt() {  /* the ?at= of the page's URL, or null when live */
    var match = /[?&]at=([^&#]*)/.exec(window.location.search);
    return match ? decodeURIComponent(match[1].replace(/\+/g, " ")) : null;
  }

  function withAt(path) {  /* a link keeping the page's at (as dashapp.payloads.paths.with_at) */
    var at = pageAt();
    if (!at || /[?&]at=/.test(path)) { return path; }
    return path + (path.indexOf("?") >= 0 ? "&" : "?") + "at=" + encodeURIComponent(at);
  }

  window.syncMonitorAsOf = { pageAt: pageAt, withAt: withAt };

  var renderers = window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {};
  renderers.RunLinkAt = function (props) {  /* the run's own page, as of the page's at when it has one */
    if (props.value === null || props.value === undefined) { return ""; }
    var href = withAt(window.syncMonitorPath("/runs/" + encodeURIComponent(props.value)));
    return React.createElement("a", { href: href, className: "run-link" }, "#" + props.value);
  };
})();
