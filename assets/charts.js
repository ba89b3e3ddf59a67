/* Charts on phones (narrower than 576 px, as dashapp/web/components/chart_box.py): each chart's
   legend is hidden and its "Legend" button (.chart-legend-toggle, data-graph = the dcc.Graph's id)
   shows it; the chart then grows by the legend's height, so its plot keeps its size. The hover
   names the series meanwhile (the template's hoverlabel.namelength = -1). Wider screens show every
   legend the figure has. A new figure from the server (every refresh) is seen by the mutation
   observer and put in the same state. */
(function () {
  "use strict";
  var PHONE_PX = 576;
  var opened = {};  /* graph id -> its legend opened by its button */
  var queued = false;

  function phone() { return window.innerWidth < PHONE_PX; }

  function hostOf(gd) { return gd.parentElement && gd.parentElement.id ? gd.parentElement : null; }

  function button(id) {
    return document.querySelector('.chart-legend-toggle[data-graph="' + id + '"]');
  }

  function legendHeight(gd) {
    var legend = gd.querySelector(".legend");
    return legend ? Math.ceil(legend.getBoundingClientRect().height) + 8 : 0;
  }

  function legendAsked(gd) {  /* Plotly's own rule: showlegend if set, else more than one legend entry */
    if (gd.layout.showlegend === true || gd.layout.showlegend === false) { return gd.layout.showlegend; }
    return (gd._fullData || []).filter(function (trace) { return trace.showlegend; }).length > 1;
  }

  function resize(gd, host, grown) {
    /* a chart sized by its box (style height) grows its box; one with its own height, the figure */
    var extra = grown ? legendHeight(gd) : 0;
    if (host.dataset.smBaseHeight) {
      var wanted = (parseFloat(host.dataset.smBaseHeight) + extra) + "px";
      if (host.style.height !== wanted) { host.style.height = wanted; }
    } else if (gd._smBaseHeight) {
      var height = gd._smBaseHeight + extra;
      if (gd._fullLayout.height !== height) {
        gd._smGrownHeight = height;
        window.Plotly.relayout(gd, { height: height });
      }
    }
  }

  function apply(gd) {
    var host = hostOf(gd);
    if (!host || !gd._fullLayout || !window.Plotly) { return; }
    /* the legend the figure asks for (its traces and template); on phones it is hidden by
       legend.visible, which the server's figures never set, so what they ask for stays readable */
    var asked = legendAsked(gd);
    if (gd._smBaseHeight === undefined || gd.layout.height !== gd._smGrownHeight) {
      gd._smBaseHeight = gd.layout.height || null;
    }
    if (host.style.height && !host.dataset.smBaseHeight) { host.dataset.smBaseHeight = parseFloat(host.style.height); }
    var id = host.id, toggle = button(id), open = !!opened[id];
    var want = asked && (!phone() || open);
    if (toggle) {
      toggle.hidden = !asked;
      toggle.setAttribute("aria-pressed", open ? "true" : "false");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    if (gd._smBusy) { return; }
    var drawn = asked && !(gd._fullLayout.legend && gd._fullLayout.legend.visible === false);
    if (asked && drawn !== want) {
      gd._smBusy = true;
      /* Plotly keeps the room it reserved for a container legend once the legend is gone: give it
         back, and have the axes work their margins out again */
      if (!want && gd._fullLayout._reservedMargin) { delete gd._fullLayout._reservedMargin.legend; }
      window.Plotly.relayout(gd, { "legend.visible": want, "xaxis.automargin": true }).then(function () {
        gd._smBusy = false;
        resize(gd, host, want && phone());
      }, function () { gd._smBusy = false; });
    } else {
      resize(gd, host, want && phone());
    }
  }

  function applyAll() {
    queued = false;
    document.querySelectorAll(".js-plotly-plot").forEach(apply);
  }

  function later() {
    if (!queued) { queued = true; window.requestAnimationFrame(applyAll); }
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest(".chart-legend-toggle");
    if (!toggle) { return; }
    var id = toggle.getAttribute("data-graph");
    opened[id] = !opened[id];
    var host = document.getElementById(id), gd = host && host.querySelector(".js-plotly-plot");
    if (gd) { apply(gd); }
  });
  window.addEventListener("resize", later);
  new MutationObserver(later).observe(document.documentElement, { childList: true, subtree: true });
})();
