"""Figures: one template lays out every figure (legends in the
container under the x axis title, so they cover nothing), light and dark; the bucket still in
progress is drawn as partial ("so far"); error classes keep distinct labels; the demo's endpoints
have latencies of their own."""

from __future__ import annotations

import inspect
import random
import statistics
from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from dashapp import display
from dashapp.demo import latency
from dashapp.payloads import crm_api_usage as api_usage_payloads
from dashapp.payloads import performance as performance_payloads
from dashapp.payloads.params import CUSTOM, Window
from dashapp.recording import crm_calls as api_calls
from dashapp.web.components import figures, run_figures
from tests.conftest import call_writer
from tests.support.rows import Run, insert_runs

DAYS = ["2026-11-28", "2026-11-29", "2026-11-30"]
SERIES = [{"bucket": f"2026-11-30T{h:02d}:00:00Z", "crm_source": crm, "calls": 10 + h, "avg_ms": 100.0 + h,
           "partial": h == 12} for h in (10, 11, 12) for crm in ("hubspot", "genius")]
BREAKER = {"breaker": "hubspot-contacts", "state": "OPEN", "transitions": [
    {"at": "2026-11-30T10:30:00Z", "from": "CLOSED", "to": "OPEN", "reason": "3 failures"}]}
RUN_PAGE = {
    "run": {"id": 9, "start_time": "2026-11-30T10:00:00Z", "status": "success", "status_class": "success",
            "duration_seconds": 30.0, "records_processed": 40},
    "api_calls": [{"called_at": "2026-11-30T10:00:05Z", "status": s, "duration_ms": 100.0 + i, "method": "GET",
                   "endpoint": "/x", "error": None} for i, s in enumerate((200, 429, 500, None))],
    "breaker_events": [{"occurred_at": "2026-11-30T10:00:07Z", "to_state": "OPEN", "breaker": "b"}],
    "previous_runs": [{"id": 8, "status": "failed", "status_class": "failed", "duration_seconds": 20.0,
                       "records_processed": 10}],
}


def every_builder() -> dict[str, go.Figure]:
    """One figure from each builder of figures.py and run_figures.py, with data."""
    frame = pd.DataFrame({"day": DAYS * 5, "crm_source": [c for c in "abcde" for _ in DAYS],
                          "p50": range(15), "p95": range(15, 30), "runs": range(15)})
    return {
        "empty": figures.empty("t", "why"),
        "duration_trend": figures.duration_trend(frame, "why"),
        "records_by_crm": figures.records_by_crm(pd.DataFrame({"crm_source": ["a", "b"], "records": [3, 4]}), "w"),
        "success_rate_trend": figures.success_rate_trend(pd.DataFrame({
            "day": DAYS, "success_rate": [90, 95, 99], "partial_rate": [1, 2, 3], "completed": [9, 9, 9],
            "failed": [1, 0, 0], "partial": [0, 1, 0]}), "why"),
        "runs_per_day": figures.runs_per_day(frame, "why", datetime(2026, 11, 30).date()),
        "throughput": figures.throughput(pd.DataFrame({"crm_source": ["a", "b"], "sync_type": ["x", "y"],
                                                       "records_per_second": [1.5, 2.5], "runs": [3, 4]}), "why"),
        "error_classes": figures.error_classes([{"error_class": f"Timeout {n}", "count": n, "failed": n,
                                                 "partial": 0, "history_link": "/history", "sample": "s"}
                                                for n in range(1, 4)], "why"),
        "api_series": figures.api_series(SERIES, "calls", "Calls", "why", "UTC"),
        "breaker_timeline": figures.breaker_timeline([BREAKER], "why", "2026-11-30T10:00:00Z",
                                                     "2026-11-30T11:00:00Z", "UTC"),
        "remaining_history": figures.remaining_history([{"at": "2026-11-30T10:00:00Z", "crm_source": "hubspot",
                                                         "endpoint": "/x", "remaining": 3}], "why", "UTC"),
        "calls_timeline": run_figures.calls_timeline(RUN_PAGE),
        "previous_runs": run_figures.previous_runs(RUN_PAGE),
    }


def test_every_builder_is_covered_here():
    """A new builder in either module must be added to ``every_builder`` (and so to these checks)."""
    built = set(every_builder())
    for module in (figures, run_figures):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_") and (
                    "figure" in str(inspect.signature(function).return_annotation).lower()
                    or module is run_figures):
                assert name in built or name in ("themed", "time_axis", "day_axis"), name


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_every_figure_is_on_the_shared_template_in_both_themes(mode):
    expected = pio.templates[figures.TEMPLATE_DARK if mode == "dark" else figures.TEMPLATE]
    for name, figure in every_builder().items():
        themed = figures.themed(figure, mode)
        assert themed.layout.template == expected, name
        # the legend is the template's: nothing moves it back over the axes
        assert themed.layout.legend.y is None and themed.layout.legend.yref is None, name
        for note in themed.layout.annotations:
            assert note.font.color == figures.MUTED[mode], name
    # and back: a dark figure (as a dcc.Graph holds it, a dict) switched to light
    dark = figures.themed(every_builder()["api_series"], "dark").to_plotly_json()
    assert figures.themed(dark, "light").layout.template == pio.templates[figures.TEMPLATE]


def test_the_legend_lies_under_the_plot_and_its_axis_title():
    """The template puts every legend in the container's bottom margin (Plotly reserves the
    legend's height there, and the x axis pushes its own margin for ticks and title above it), wrapped
    horizontally; the plot's domain ends above it; titles keep their distance from tick labels."""
    layout = pio.templates[figures.TEMPLATE].layout
    legend = layout.legend
    assert (legend.orientation, legend.xref, legend.yref, legend.y, legend.yanchor) == (
        "h", "container", "container", 0, "bottom")
    assert layout.xaxis.automargin and layout.yaxis.automargin
    assert layout.xaxis.title.standoff >= 8 and layout.yaxis.title.standoff >= 8
    assert layout.hoverlabel.namelength == -1  # the hover names the series in full (phones hide legends)
    for name, figure in every_builder().items():
        assert tuple(figure.layout.yaxis.domain or (0, 1)) == (0, 1), name  # the plot ends where the margin starts
        assert figure.layout.margin.b is None, name  # the template's, which the legend and axis grow


def test_the_duration_chart_keeps_its_legend_short():
    """Ten CRMs give eleven legend entries (one per CRM, one for every p95 line), not twenty."""
    frame = pd.DataFrame({"day": DAYS * 10, "crm_source": [f"crm{c}" for c in range(10) for _ in DAYS],
                          "p50": range(30), "p95": range(30, 60)})
    figure = figures.duration_trend(frame, "why")
    entries = [t.name for t in figure.data if t.showlegend is not False]
    assert len(entries) == 11 and entries[-1] == "p95 (dotted)"
    p95 = [t for t in figure.data if t.legendgroup == "p95"]
    assert len(p95) == 11 and {t.visible for t in p95} == {"legendonly"}  # crowded: p95 lines start hidden
    first = figure.data[0]
    assert list(first.customdata[:, 0]) == [30.0, 31.0, 32.0]  # the hover gives the p95 with the p50


def test_error_classes_eight_to_ten_have_labels_of_their_own():
    stem = "HTTPError: 429 Client Error: Too Many Requests for url: https://api.hubapi.com/crm/v3/objects/"
    classes = [{"error_class": f"Error number {n}", "count": 20 - n, "history_link": "/h", "sample": "s"}
               for n in range(7)] + [{"error_class": stem + end, "count": 3, "history_link": "/h", "sample": "s"}
                                     for end in ("contacts", "deals", "contacts?limit=<n>")]
    figure = figures.error_classes(classes, "why")
    labels = list(figure.data[0].y)
    assert len(set(labels)) == len(labels) == 10
    tails = [label for label in labels if label.startswith(("8.", "9.", "10."))]
    assert sorted(tails) == sorted(["8. HTTPError: 429…contacts", "9. HTTPError: 429…deals",
                                    "10. HTTPError: 429…contacts?l…"])
    assert all(len(label) <= 32 for label in labels)  # the bars keep their room at 390 px


@pytest.fixture
def recorded(db):
    for writer in call_writer(db, flush_seconds=0.05):
        yield db, writer


def test_the_minute_still_in_progress_is_drawn_as_so_far(recorded):
    db, writer = recorded
    minute = (datetime.now(UTC) - timedelta(minutes=2)).replace(second=0, microsecond=0)
    now = minute + timedelta(seconds=30)  # the window ends half-way through this minute
    for n in range(5):  # the minute before: whole
        api_calls.record_api_call("hubspot", "/x", "GET", 200, 10.0 + n, called_at=minute - timedelta(seconds=40 - n))
    for n in range(3):  # this minute, so far
        api_calls.record_api_call("hubspot", "/x", "GET", 200, 20.0, called_at=minute + timedelta(seconds=10 + n))
    writer.flush()
    stats = api_usage_payloads.api_stats(db, Window(CUSTOM, now - timedelta(hours=1)), now)
    assert stats["bucket_seconds"] == 60
    rows = sorted((r["bucket"], r["calls"], r["partial"]) for r in stats["series"])
    assert rows[-2:] == [(f"{minute - timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}", 5, False),
                         (f"{minute:%Y-%m-%dT%H:%M:%SZ}", 3, True)]
    figure = figures.api_series(stats["series"], "calls", "Calls", "why", "UTC")
    line, dotted, so_far = figure.data
    assert line.y[-1] == 5 and line.showlegend is not False  # the whole buckets only: no plunge
    assert list(dotted.y) == [5, 3] and dotted.line.dash == "dot" and dotted.hoverinfo == "skip"
    assert list(so_far.y) == [3] and so_far.marker.symbol == "circle-open" and "so far" in so_far.hovertemplate
    assert len({t.legendgroup for t in figure.data}) == 1  # one legend entry hides or shows all three


def test_today_is_drawn_as_a_day_so_far(db):
    now = datetime.now(UTC).replace(microsecond=0)
    today = now - now.replace(hour=0, minute=0, second=0)
    insert_runs(db, [Run("hubspot", "contacts", "success", today / 2 + timedelta(minutes=n),
                         today / 2 + timedelta(minutes=n) - timedelta(seconds=5), 10, 5, 5) for n in range(2)]
                + [Run("hubspot", "contacts", "success", today + timedelta(hours=3, minutes=n),
                       today + timedelta(hours=3, minutes=n) - timedelta(seconds=5), 10, 5, 5) for n in range(3)],
                now)
    frames = performance_payloads.performance_frames(db, now - timedelta(days=7), now)
    figure = figures.runs_per_day(frames["runs_per_day"], "why", now.date())
    (bars,) = figure.data
    by_day = {pd.Timestamp(d).date(): (y, shape, hover) for d, y, shape, hover in zip(
        bars.x, bars.y, bars.marker.pattern.shape, bars.hovertemplate, strict=True)}
    assert by_day[now.date()] == (2, "/", "%{y} so far (today, UTC)")
    assert by_day[now.date() - timedelta(days=1)] == (3, "", "%{y}")


def test_a_day_the_window_covers_in_part_is_drawn_in_part(db):
    """A window of exactly 7 days starts inside a day: that first day holds only the runs after the
    window's start, so it is hatched and its hover says from when, not read as a slow day."""
    now = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
    start = now - timedelta(days=7)  # 2026-11-23 15:30
    runs = [Run("hubspot", "contacts", "success", now - at, now - at - timedelta(seconds=5), 10, 5, 5)
            for at in (start - timedelta(hours=1), start + timedelta(hours=1), start + timedelta(hours=2),
                       start + timedelta(days=1), now - timedelta(hours=1))]
    insert_runs(db, runs, now)
    frames = performance_payloads.performance_frames(db, start, now)
    figure = figures.runs_per_day(frames["runs_per_day"], "why", now.date(), start, now)
    (bars,) = figure.data
    by_day = {pd.Timestamp(d).date(): (y, shape, hover) for d, y, shape, hover in zip(
        bars.x, bars.y, bars.marker.pattern.shape, bars.hovertemplate, strict=True)}
    assert by_day[start.date()] == (2, "/", "%{y} from 15:30 UTC (the window starts that day)")
    assert by_day[start.date() + timedelta(days=1)] == (1, "", "%{y}")
    assert by_day[now.date()] == (1, "/", "%{y} so far (today, UTC)")
    ended = figures.runs_per_day(frames["runs_per_day"], "why", None, start, now - timedelta(hours=4))
    last = {pd.Timestamp(d).date(): h for d, h in zip(ended.data[0].x, ended.data[0].hovertemplate, strict=True)}
    assert last[now.date()] == "%{y} until 11:30 UTC (the window ends that day)"


def test_demo_endpoints_have_latencies_of_their_own():
    """Log-normal around a seeded median per endpoint: medians differ between endpoints and are
    the same on every start."""
    from dashapp.demo.embedded import JOBS

    medians = {job.endpoint: latency.profile(job.crm, job.endpoint)[0] for job in JOBS}
    assert len({round(m) for m in medians.values()}) == len(medians)
    assert all(latency.FASTEST_MS <= m <= latency.SLOWEST_MS for m in medians.values())
    rng = random.Random(1)
    for job in JOBS[:3]:
        drawn = [latency.call_latency(job.crm, job.endpoint, rng) for _ in range(2000)]
        assert statistics.median(drawn) == pytest.approx(medians[job.endpoint], rel=0.1)
        assert max(drawn) > 2.5 * medians[job.endpoint]  # a tail, not a constant


def test_the_dark_template_and_zone_names():
    figure = figures.themed(figures.empty("t", "why"), "dark")
    assert figure.layout.template.layout.font.color == "#dee2e6"
    assert figure.layout.annotations[0].font.color == figures.MUTED["dark"]
    assert figures.themed(figures.empty("t", "why"), "light").layout.template.layout.paper_bgcolor == "white"
    assert display.zone_name("UTC") == "UTC" and display.zone_name("Nowhere/Else") == "UTC"
    assert display.zone_name("Europe/Berlin", datetime(2026, 7, 1, tzinfo=UTC)) == "CEST"
    series = figures.in_zone(["2026-07-01T12:00:00Z"], "Europe/Berlin")
    assert str(series[0]) == "2026-07-01 14:00:00"
