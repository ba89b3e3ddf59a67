"""What a demanding viewer checks on a drawn page, shared by the browser sweep
(tests/web/test_every_page_browser.py) and ``scripts/screenshot.py --check``.

- ``contrast``: axe-core's color-contrast rule (tests/axe/node_modules/axe-core, installed by
  .ci/setup from the pinned tests/axe/package-lock.json; nothing downloads at test time), and for
  what axe leaves undecided (AG Grid's cells, text over positioned boxes, one-character numbers)
  the same WCAG ratio computed from the colours, backgrounds and opacities the browser applies
  (``chart-contrast`` when the text is a chart's);
- ``geometry``: a Plotly legend over an x-axis title or tick label, two header cells of one AG Grid
  overlapping, a light chart in the dark theme, sideways scroll, a state colour without words.

Each finding names the lane whose files decide it: A figures, B grids, D colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AXE_JS = Path(__file__).resolve().parents[1] / "axe" / "node_modules" / "axe-core" / "axe.min.js"

# which lane's files decide each check
LANES = {"contrast": "D", "state-words": "D", "light-panel-in-dark": "D",
         "legend-over-axis": "A", "chart-title-cut": "A", "light-chart-in-dark": "A", "chart-contrast": "A",
         "grid-headers-overlap": "B",
         "sideways-scroll": "any", "console": "any"}


@dataclass(frozen=True)
class Finding:
    check: str
    text: str

    @property
    def lane(self) -> str:
        return LANES[self.check]

    def __str__(self) -> str:
        return f"[{self.check}, lane {self.lane}] {self.text}"


def axe_source() -> str:
    if not AXE_JS.exists():
        raise FileNotFoundError(f"{AXE_JS} is missing: run `bash .ci/setup` (npm ci in tests/axe)")
    return AXE_JS.read_text(encoding="utf-8")


_RUN_AXE = """
var done = arguments[arguments.length - 1];
if (!window.axe) { (0, eval)(arguments[0]); }
""" + r"""
// colours as [r, g, b, a]; a text's colour over the first opaque background behind it in the DOM
function parse(c) {
  var m = (c || '').match(/rgba?\(([^)]+)\)/);
  if (!m) { return [0, 0, 0, 0]; }
  var p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function over(top, under) {
  var a = top[3];
  return [top[0] * a + under[0] * (1 - a), top[1] * a + under[1] * (1 - a), top[2] * a + under[2] * (1 - a), 1];
}
function lum(c) {
  var v = c.slice(0, 3).map(function (x) {
    x /= 255;
    return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function hex(c) {
  return '#' + c.slice(0, 3).map(function (x) { return ('0' + Math.round(x).toString(16)).slice(-2); }).join('');
}
function own(el) {  // the element's own text, not its children's
  var t = '';
  el.childNodes.forEach(function (n) { if (n.nodeType === 3) { t += n.textContent; } });
  return t.trim();
}
// The pixel a text (or the background beside it) shows: each element from <html> down paints its
// background over what is behind it, and its opacity blends its whole group with that backdrop.
function pixel(chain, i, backdrop, text) {
  if (i === chain.length) { return text ? over(text, backdrop) : backdrop; }
  var s = getComputedStyle(chain[i]), op = Number(s.opacity);
  var inner = pixel(chain, i + 1, over(parse(s.backgroundColor), backdrop), text);
  return [0, 1, 2].map(function (k) { return op * inner[k] + (1 - op) * backdrop[k]; }).concat([1]);
}
function ratioOf(el) {
  var chain = [];
  for (var e = el; e && e.nodeType === 1; e = e.parentElement) { chain.unshift(e); }
  var style = getComputedStyle(el), white = [255, 255, 255, 1];
  var ink = el.closest('svg') ? style.fill : style.color;  // a chart's text is drawn in its fill
  var fg = pixel(chain, 0, white, parse(ink)), bg = pixel(chain, 0, white, null);
  var hi = Math.max(lum(fg), lum(bg)), lo = Math.min(lum(fg), lum(bg));
  var size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  return {ratio: Math.round((hi + 0.05) / (lo + 0.05) * 100) / 100, fg: hex(fg), bg: hex(bg),
          expected: size >= 24 || (bold && size >= 18.66) ? 3 : 4.5};
}
function target(el) {
  var holder = el.closest('[id]'), cell = el.closest('.ag-cell'), row = el.closest('.ag-row');
  return (holder ? '#' + holder.id + ' ' : '') +
         (row ? '.ag-row[row-index="' + row.getAttribute('row-index') + '"] ' : '') +
         (cell ? '[col-id="' + cell.getAttribute('col-id') + '"] ' : '') + el.tagName.toLowerCase();
}
// AG Grid's bodies are left out of axe's run: an infinite grid's scroll height (the history's is
// 120,000 px) stops the rule ("Element midpoint exceeds the grid bounds"), and axe cannot see the
// background behind a grid's positioned rows anyway; their cells get the computed check below.
axe.run({include: [document], exclude: [['.ag-body-viewport']]},
        {runOnly: {type: 'rule', values: ['color-contrast']}, elementRef: true})
  .then(function (result) {
    var out = [], checked = [];
    result.violations.forEach(function (v) { v.nodes.forEach(function (n) {
      var data = (n.any[0] || {}).data || {};
      out.push({target: n.target.join(' '), ratio: data.contrastRatio, expected: data.expectedContrastRatio,
                fg: data.fgColor, bg: data.bgColor, html: (n.html || '').slice(0, 120)});
    }); });
    result.incomplete.forEach(function (v) {
      if (v.error) { out.push({error: v.error.message}); return; }
      v.nodes.forEach(function (n) {  // behind a positioned box, or too short for axe to judge
        var key = ((n.any[0] || {}).data || {}).messageKey;
        if ((key === 'bgOverlap' || key === 'shortTextContent') && n.element) { checked.push(n.element); }
      });
    });
    document.querySelectorAll('.ag-body-viewport .ag-cell, .ag-body-viewport .ag-cell *').forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && own(el) && getComputedStyle(el).visibility !== 'hidden') { checked.push(el); }
    });
    checked.forEach(function (el) {
      var c = ratioOf(el);
      if (c.ratio < c.expected) {
        out.push({target: target(el) + ' (computed)', ratio: c.ratio, expected: c.expected, fg: c.fg, bg: c.bg,
                  html: el.outerHTML.slice(0, 120), chart: !!el.closest('.js-plotly-plot')});
      }
    });
    done(out);
  })
  .catch(function (e) { done([{error: String(e)}]); });
"""


def contrast(driver, source: str | None = None) -> list[Finding]:
    """axe-core's color-contrast violations on the page as drawn now (axe injected once per page)."""
    driver.set_script_timeout(60)
    nodes = driver.execute_async_script(_RUN_AXE, source if source is not None else axe_source())
    found = []
    for n in nodes:
        if "error" in n:
            found.append(Finding("contrast", f"axe failed: {n['error']}"))
        else:
            found.append(Finding("chart-contrast" if n.get("chart") else "contrast",
                                 f"{n['target']}: {n['ratio']}:1 (needs {n['expected']}), "
                                 f"{n['fg']} on {n['bg']}: {n['html']}"))
    return found


# One pass over the page; returns {check: [text, ...]}.
GEOMETRY_JS = r"""
var out = {"legend-over-axis": [], "chart-title-cut": [], "grid-headers-overlap": [], "light-chart-in-dark": [],
           "sideways-scroll": [], "state-words": [], "light-panel-in-dark": []};
function visible(r) { return r.width > 0.5 && r.height > 0.5; }
function overlap(a, b, slack) {
  slack = slack || 1;
  return Math.min(a.right, b.right) - Math.max(a.left, b.left) > slack &&
         Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > slack;
}
function clip(r, box) {
  return {left: Math.max(r.left, box.left), right: Math.min(r.right, box.right),
          top: Math.max(r.top, box.top), bottom: Math.min(r.bottom, box.bottom)};
}
function name(el) {
  var holder = el.closest('[id]');
  return holder ? '#' + holder.id : el.tagName.toLowerCase();
}
function shown(el) {
  var s = getComputedStyle(el);
  return s.display !== 'none' && s.visibility !== 'hidden' && visible(el.getBoundingClientRect());
}
// legends against the x axis's title and tick labels, in the same figure
document.querySelectorAll('.js-plotly-plot').forEach(function (plot) {
  var where = name(plot.parentElement || plot);
  plot.querySelectorAll('g.legend').forEach(function (legend) {
    if (!shown(legend)) { return; }
    var bg = legend.querySelector('rect.bg');
    var box = (bg || legend).getBoundingClientRect();
    if (!visible(box)) { return; }
    var hits = [];
    plot.querySelectorAll('.g-xtitle text, .xtick text').forEach(function (t) {
      var r = t.getBoundingClientRect();
      if (visible(r) && t.textContent.trim() && overlap(box, r, 1)) {
        hits.push((t.closest('.g-xtitle') ? 'x title ' : 'x tick ') + JSON.stringify(t.textContent.trim()));
      }
    });
    if (hits.length) {
      out["legend-over-axis"].push(where + ': the legend covers ' + hits.slice(0, 4).join(', ') +
                                   (hits.length > 4 ? ' and ' + (hits.length - 4) + ' more' : ''));
    }
  });
});
// a chart's title fits its figure: none runs past the figure's right edge (Plotly never wraps one)
document.querySelectorAll('.js-plotly-plot').forEach(function (plot) {
  var svg = plot.querySelector('.main-svg');
  if (!svg) { return; }
  var edge = svg.getBoundingClientRect().right;
  plot.querySelectorAll('.g-gtitle text, .gtitle').forEach(function (t) {
    var r = t.getBoundingClientRect();
    if (visible(r) && r.right > edge + 1) {
      out["chart-title-cut"].push(name(plot.parentElement || plot) + ': the title ' +
                                  JSON.stringify(t.textContent.trim()) + ' runs ' +
                                  Math.round(r.right - edge) + ' px past the chart');
    }
  });
});
// header cells of one grid: clipped to the part of the header they show in, per header row
document.querySelectorAll('.ag-root-wrapper').forEach(function (grid) {
  var rows = {};
  grid.querySelectorAll('.ag-header-cell').forEach(function (cell) {
    var r = cell.getBoundingClientRect();
    if (!visible(r)) { return; }
    var part = cell.closest('.ag-pinned-left-header, .ag-pinned-right-header, .ag-header-viewport, .ag-header');
    var c = part ? clip(r, part.getBoundingClientRect()) : r;
    if (c.right - c.left <= 1) { return; }  // scrolled out of its part
    var row = cell.closest('.ag-header-row');
    var key = row ? (row.getAttribute('aria-rowindex') || '0') : '0';
    (rows[key] = rows[key] || []).push({rect: c, text: (cell.textContent || cell.getAttribute('col-id') || '').trim()});
  });
  var where = name(grid);
  Object.keys(rows).forEach(function (key) {
    var cells = rows[key];
    for (var i = 0; i < cells.length; i++) { for (var j = i + 1; j < cells.length; j++) {
      if (overlap(cells[i].rect, cells[j].rect, 1)) {
        out["grid-headers-overlap"].push(where + ': header ' + JSON.stringify(cells[i].text) + ' overlaps ' +
                                         JSON.stringify(cells[j].text));
      }
    } }
  });
});
// a chart's own background in the dark theme
function light(colour) {
  var m = (colour || '').match(/rgba?\(([^)]+)\)/);
  if (!m) { return colour === '#fff' || colour === '#ffffff' || colour === 'white'; }
  var p = m[1].split(',').map(Number);
  if (p.length > 3 && p[3] < 0.1) { return false; }
  return (0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2]) / 255 > 0.5;
}
if (document.documentElement.getAttribute('data-bs-theme') === 'dark') {
  document.querySelectorAll('.js-plotly-plot').forEach(function (plot) {
    var layout = plot._fullLayout || {};
    var svg = plot.querySelector('.main-svg');
    var paper = layout.paper_bgcolor, area = layout.plot_bgcolor;
    var svgBg = svg ? getComputedStyle(svg).backgroundColor : '';
    [['paper', paper], ['plot area', area], ['main-svg', svgBg]].forEach(function (pair) {
      if (pair[1] && light(pair[1])) {
        out["light-chart-in-dark"].push(name(plot.parentElement || plot) + ': ' + pair[0] + ' background ' + pair[1]);
      }
    });
  });
}
var over = document.documentElement.scrollWidth - window.innerWidth;
if (over > 0) {
  // the outermost elements that reach past the window's right edge, named by id or class
  var wide = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.right <= window.innerWidth + 0.5 || !visible(r) || wide.length >= 4) { return; }
    if (wide.some(function (w) { return w.el.contains(el); })) { return; }
    var classes = typeof el.className === 'string' ? el.className.trim().split(/\s+/).join('.') : '';
    wide.push({el: el, text: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
               (classes ? '.' + classes : '') + ' to ' + Math.round(r.right) + ' px'});
  });
  out["sideways-scroll"].push('scrolls sideways by ' + over + ' px: ' +
                              wide.map(function (w) { return w.text; }).join('; '));
}
// in the dark theme no grid, code block, card or panel stays light
if (document.documentElement.getAttribute('data-bs-theme') === 'dark') {
  document.querySelectorAll('.ag-root-wrapper, pre, code, .card, .modal-content, .dropdown-menu, .list-group-item, ' +
                            '.table, .form-control, .form-select, .bg-light').forEach(function (el) {
    if (!shown(el)) { return; }
    var bg = getComputedStyle(el).backgroundColor;
    if (light(bg)) { out["light-panel-in-dark"].push(name(el) + ': ' + el.tagName.toLowerCase() + '.' +
                                                      String(el.className).trim().split(/\s+/).slice(0, 3).join('.') +
                                                      ' has a light background ' + bg); }
  });
  if (document.documentElement.getAttribute('data-ag-theme-mode') !== 'dark') {
    var mode = document.documentElement.getAttribute('data-ag-theme-mode');
    out["light-panel-in-dark"].push('data-ag-theme-mode is ' + mode + ': the grids did not switch');
  }
}
// state colours carry words: a badge has text (or aria-label), a run tick an aria-label or title
document.querySelectorAll('.badge, .run-tick, .freshness-state').forEach(function (el) {
  if (!shown(el)) { return; }
  var words = (el.textContent || '').trim() || el.getAttribute('aria-label') || el.getAttribute('title');
  if (!words) { out["state-words"].push(name(el) + ': a ' + el.className + ' with no words'); }
});
return out;
"""


def geometry(driver) -> list[Finding]:
    """The geometric checks on the page as drawn now."""
    found = driver.execute_script(GEOMETRY_JS)
    return [Finding(check, text) for check, texts in found.items() for text in texts]


def severe_console(entries: list[dict]) -> list[Finding]:
    return [Finding("console", e["message"][:300]) for e in entries if e.get("level") == "SEVERE"]


# The page has settled: no Dash callback pending, every graph drawn, every grid past its loading
# overlay, and the same layout as on the previous looks (wait_settled polls it): the number of
# elements, the page's height, and where every grid header cell and chart sits.
SETTLED_JS = r"""
if (document.readyState !== 'complete' || !document.getElementById('react-entry-point')) { return -1; }
if (document.querySelector('[data-dash-is-loading="true"]')) { return -1; }
var graphs = document.querySelectorAll('.dash-graph');
for (var i = 0; i < graphs.length; i++) {
  var plot = graphs[i].querySelector('.js-plotly-plot');
  if (!plot || !plot._fullLayout || !plot.querySelector('.main-svg')) { return -1; }
}
if (document.querySelector('.ag-overlay-loading-center, .ag-overlay-loading-wrapper')) { return -1; }
var shape = [document.getElementsByTagName('*').length, document.body.scrollHeight];
document.querySelectorAll('.ag-header-cell, .js-plotly-plot .main-svg, g.legend').forEach(function (el) {
  var r = el.getBoundingClientRect();
  shape.push(Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height));
});
return shape.join(',');
"""


def wait_settled(driver, timeout: float = 20.0, quiet_looks: int = 3) -> None:
    """Wait until the page has drawn and its layout stopped changing (``quiet_looks`` more equal
    looks, 0.2 s apart)."""
    import time

    deadline = time.monotonic() + timeout
    last, same = None, 0
    while time.monotonic() < deadline:
        size = driver.execute_script(SETTLED_JS)
        if size != -1 and size == last:
            same += 1
            if same >= quiet_looks:
                return
        else:
            same = 0
        last = size
        time.sleep(0.2)
    raise AssertionError(f"the page did not settle in {timeout:.0f} s")


def apply_view(driver, url: str, width: int, theme: str, height: int = 900) -> None:
    """Open ``url`` at ``width`` px in ``theme`` (the navbar's own setting, kept in localStorage
    'sm-theme'), as a user who picked it and reloaded would see it."""
    driver.set_window_size(width, height)
    if not driver.current_url.startswith(url.split("/", 3)[0] + "//" + url.split("/", 3)[2]):
        driver.get(url)  # same origin first, so localStorage is the app's
    driver.execute_script("localStorage.setItem('sm-theme', arguments[0])", theme)
    driver.get(url)


def theme_applied(driver, theme: str) -> bool:
    return driver.execute_script("return document.documentElement.getAttribute('data-bs-theme')") == theme
