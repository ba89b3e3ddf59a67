"""Figures fit their charts, in headless Chromium: on performance and API usage, at 1440
and 390 px, light and dark, no legend meets an x axis title or tick label or lies on the plot, the
plots keep a readable height, the charts' background is the theme's (and switches live), and on a
phone each legend waits behind its "Legend" button. Data: runs and CRM calls the test wrote
(PostgreSQL, through the recorder's call writer)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashapp.recording import crm_calls as api_calls
from dashapp.recording.circuit_breaker import CircuitBreaker
from queries.clock import utc_now
from tests.conftest import call_writer
from tests.support.browser_steps import wait_for
from tests.support.rows import Run, history_runs, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")

CRMS = ["hubspot", "callrail", "genius", "salesrabbit", "arrivy", "five9", "marketsharp", "leadconduit", "salespro",
        "gsheet"]
PAGES = {
    "/performance": ["duration-chart", "success-rate-chart", "records-by-crm-chart", "sync-frequency-chart",
                     "throughput-chart"],
    "/api-usage": ["rate-limit-history", "breaker-timeline", "api-latency-chart", "api-volume-chart"],
}
READABLE_PX = 140  # the least plot height a chart keeps, its legend shown or not
BAND_PX = 40  # the breaker timeline: a band per breaker (one here)

# Per chart: whether its legend is drawn, the axis labels it meets (text), whether it lies on the plot,
# the plot's height and the main SVG's background colour.
GEOMETRY = """
function meet(a, b) { return a.width > 0 && b.width > 0 && a.left < b.right - 1 && b.left < a.right - 1 &&
                             a.top < b.bottom - 1 && b.top < a.bottom - 1; }
var out = {};
document.querySelectorAll('.js-plotly-plot').forEach(function (gd) {
  var id = gd.parentElement.id, legend = gd.querySelector('.legend'), plot = gd.querySelector('.nsewdrag');
  var plotBox = plot ? plot.getBoundingClientRect() : null, met = [];
  if (legend) {
    var box = legend.getBoundingClientRect();
    gd.querySelectorAll('.g-xtitle, .xtick text').forEach(function (label) {
      if (meet(box, label.getBoundingClientRect())) { met.push(label.textContent); }
    });
    if (plotBox && meet(box, plotBox)) { met.push('the plot area'); }
  }
  out[id] = {legend: !!legend, met: met, plot: plotBox ? Math.round(plotBox.height) : 0,
             traces: gd.querySelectorAll('.trace').length,
             bg: getComputedStyle(gd.querySelector('.main-svg')).backgroundColor};
});
return out;
"""


def brightness(colour: str) -> float:
    red, green, blue = (float(v) for v in colour[colour.index("(") + 1:].rstrip(")").split(",")[:3])
    return 0.299 * red + 0.587 * green + 0.114 * blue


def dark_enough(colour: str, theme: str) -> bool:
    return brightness(colour) < 60 if theme == "dark" else brightness(colour) > 230


@pytest.fixture
def written(pg_engine):
    """Runs of ten CRMs over seven days (and the usual history), CRM calls every 20 minutes over
    five hours with their rate-limit headers, and a breaker opened by two failures, recorded
    through the call writer."""
    now = utc_now()
    insert_runs(pg_engine, history_runs() + [
        Run(crm, "contacts", "success", timedelta(days=day, hours=1 + n), timedelta(days=day, hours=n + 1) -
            timedelta(seconds=30 + 7 * n), 100 + n, 50, 50)
        for n, crm in enumerate(CRMS) for day in range(7)], now)
    for writer in call_writer(pg_engine, flush_seconds=0.05):
        for step in range(15):
            at = now - timedelta(minutes=20 * step + 1)
            for n, crm in enumerate(CRMS[:6]):
                api_calls.record_api_call(crm, f"/{crm}/records", "GET", 429 if step == n else 200, 80.0 + 40 * n,
                                          called_at=at, headers={"X-RateLimit-Limit": "100",
                                                                 "X-RateLimit-Remaining": str(90 - 5 * step - n),
                                                                 "X-RateLimit-Reset": "60"})
        breaker = CircuitBreaker("hubspot-records", "hubspot", failure_threshold=2, reset_timeout=600)
        for _ in range(2):
            with pytest.raises(ConnectionError):
                breaker.call(refused)
        writer.flush()
        yield pg_engine


def refused() -> None:
    raise ConnectionError("refused")


def geometry(dash_duo) -> dict:
    return dash_duo.driver.execute_script(GEOMETRY)


def drawn(dash_duo, charts: list[str], theme: str, phone: bool) -> bool:
    """Every chart drawn with data in the theme's colours, and on a phone with its legend put away."""
    shapes = geometry(dash_duo)
    return all(chart in shapes and shapes[chart]["traces"] and dark_enough(shapes[chart]["bg"], theme)
               and not (phone and shapes[chart]["legend"]) for chart in charts)


def check(dash_duo, charts: list[str], where: str) -> None:
    shapes = geometry(dash_duo)
    for chart in charts:
        assert shapes[chart]["met"] == [], f"{where} {chart}: the legend meets {shapes[chart]['met']}"
        least = BAND_PX if chart == "breaker-timeline" else READABLE_PX
        assert shapes[chart]["plot"] >= least, f"{where} {chart}: plot {shapes[chart]['plot']} px tall"


def press(dash_duo, selector: str) -> None:
    """A tap on the button, scrolled to the middle of the screen (at once: Bootstrap scrolls smoothly)."""
    button = dash_duo.find_element(selector)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", button)
    button.click()


def test_legends_cover_nothing_at_1440_and_390_in_both_themes(dash_duo, dash_app, use_engine, written):
    use_engine(written)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(dash_duo.server_url + "/health")
    for theme in ("light", "dark"):
        dash_duo.driver.execute_script("localStorage.setItem('sm-theme', arguments[0])", theme)
        for width in (1440, 390):
            dash_duo.driver.set_window_size(width, 900)
            for path, charts in PAGES.items():
                where = f"{path} at {width} px, {theme}"
                dash_duo.wait_for_page(dash_duo.server_url + path)
                wait_for(lambda c=charts, t=theme, p=width < 576: drawn(dash_duo, c, t, p), timeout=20, what=where)
                check(dash_duo, charts, where)
                if width >= 576:
                    shapes = geometry(dash_duo)
                    assert all(shapes[c]["legend"] for c in charts if c != "records-by-crm-chart" and
                               c != "throughput-chart"), f"{where}: a legend is missing"
                    continue
                # a phone: the legend waits behind its button; shown, the chart grows to keep its plot
                toggle = f'.chart-legend-toggle[data-graph="{charts[0]}"]'
                press(dash_duo, toggle)
                wait_for(lambda chart=charts[0]: geometry(dash_duo)[chart]["legend"], what=f"{where}: legend shown")
                wait_for(lambda chart=charts[0]: geometry(dash_duo)[chart]["plot"] >= READABLE_PX,
                         what=f"{where}: the chart grew with its legend")
                check(dash_duo, charts, where + ", legend shown")
                assert dash_duo.find_element(toggle).get_attribute("aria-pressed") == "true"
                press(dash_duo, toggle)
                wait_for(lambda chart=charts[0]: not geometry(dash_duo)[chart]["legend"], what=f"{where}: hidden")
    assert dash_duo.get_logs() == []


def test_the_charts_switch_theme_live(dash_duo, dash_app, use_engine, written):
    use_engine(written)
    dash_duo.start_server(dash_app)
    dash_duo.driver.set_window_size(1440, 900)
    dash_duo.wait_for_page(dash_duo.server_url + "/health")
    dash_duo.driver.execute_script("localStorage.setItem('sm-theme', 'light')")
    dash_duo.wait_for_page(dash_duo.server_url + "/api-usage")
    charts = PAGES["/api-usage"]
    wait_for(lambda: drawn(dash_duo, charts, "light", False), timeout=20, what="light charts")
    for theme in ("dark", "light"):  # through the navbar's menu, without a reload
        dash_duo.driver.execute_script("document.getElementById(arguments[0]).click()", f"theme-{theme}")
        wait_for(lambda theme=theme: drawn(dash_duo, charts, theme, False), timeout=10, what=f"{theme} charts")
    assert dash_duo.get_logs() == []
