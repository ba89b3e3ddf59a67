/* As of a moment (the address's ?at=...): the navbar's time control goes there or back to live,
   and every link to a page of the app keeps the at while it is there (links are built under
   URL_PREFIX by paths.href, so any href starting with "/" is the app's). A plain click on such a
   link loads the page as of the same moment; a middle click or "open in new tab" gets the href
   rewritten first. dashapp/web/components/time_control.py and as_of_banner.py. */
(function () {
  "use strict";
  var AT = "at";

  function currentAt() {
    return new URLSearchParams(window.location.search).get(AT);
  }

  function addressWith(at) {  /* this page's address with at set (or removed: at null) */
    var url = new URL(window.location.href);
    if (at) { url.searchParams.set(AT, at); } else { url.searchParams.delete(AT); }
    return url.pathname + url.search + url.hash;
  }

  function keepingAt(href, at) {  /* an app link with at added; null when it is not the app's or has its own */
    if (!href || href.charAt(0) !== "/" || href.charAt(1) === "/") { return null; }
    var url;
    try { url = new URL(href, window.location.origin); } catch (e) { return null; }
    if (url.searchParams.has(AT)) { return null; }
    url.searchParams.set(AT, at);
    return url.pathname + url.search + url.hash;
  }

  function linkOf(node) {
    while (node && node !== document) {
      if (node.tagName === "A" && node.hasAttribute("href")) { return node; }
      node = node.parentNode;
    }
    return null;
  }

  function mark(link, at) {  /* the href keeps at (hover, copy, new tab); true when it changed */
    if (link.hasAttribute("data-live")) { return null; }
    var next = keepingAt(link.getAttribute("href"), at);
    if (next) { link.setAttribute("href", next); }
    return next;
  }

  window.addEventListener("click", function (event) {
    var at = currentAt();
    if (!at) { return; }
    var link = linkOf(event.target);
    if (!link) { return; }
    if (link.hasAttribute("data-live")) {  /* the banner's Live */
      event.preventDefault(); event.stopPropagation();
      window.location.assign(addressWith(null));
      return;
    }
    mark(link, at);
    var href = link.getAttribute("href");
    if (!href || href.charAt(0) !== "/" || href.charAt(1) === "/" || href.indexOf(AT + "=") < 0) { return; }
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey ||
        link.target === "_blank" || link.hasAttribute("download")) { return; }  /* the browser's own, new href */
    event.preventDefault();
    event.stopPropagation();  /* not the single-page router: a new load, as of the same moment */
    window.location.assign(href);
  }, true);

  function markAll() {
    var at = currentAt();
    if (!at) { return; }
    var links = document.querySelectorAll('a[href^="/"]');
    for (var i = 0; i < links.length; i++) { mark(links[i], at); }
  }

  var pending = false;
  function soon() {
    if (pending) { return; }
    pending = true;
    window.setTimeout(function () { pending = false; markAll(); }, 200);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!currentAt() || !window.MutationObserver) { return; }
    new MutationObserver(soon).observe(document.body, { childList: true, subtree: true, attributes: true,
                                                         attributeFilter: ["href"] });
    soon();
  });

  /* The moment the page shows, in ms: at, else now. Relative times ("6 h ago", "due now") should
     count from it (sync-monitor.js's shownNow() reads this). */
  window.syncMonitorNow = function () {
    var at = currentAt();
    var ms = at ? Date.parse(at) : NaN;
    var now = Date.now();
    /* an at the server refuses (not a time, in the future, before 2000): the page shows now */
    return isNaN(ms) || ms > now || ms < Date.UTC(2000, 0, 1) ? now : ms;
  };

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.syncMonitorAsOf = {
    go: function (at) {  /* the time control's moment (UTC ISO): this page as of it */
      if (at) { window.location.assign(addressWith(at)); }
      return window.dash_clientside.no_update;
    },
    live: function (clicks) {
      if (clicks && currentAt()) { window.location.assign(addressWith(null)); }
      return window.dash_clientside.no_update;
    }
  };
})();
