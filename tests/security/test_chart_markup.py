"""Strings from data reach Plotly escaped (trace names, categories, hover text,
annotations): a CRM named ``<a href="https://evil.example">x</a>`` is shown as that text in the
performance legend and axes and in the errors chart's hover, never as a link."""

from __future__ import annotations

import json
from datetime import timedelta

from dashapp.web import ids
from dashapp.web.components import figures
from queries.clock import utc_now
from tests.support.callbacks import call
from tests.support.rows import Run, insert_runs

LINK = '<a href="https://evil.example">x</a>'
IMG = "<img src=x onerror=alert(1)>"


def markup_in(figure: dict) -> list[str]:
    """Every string of the figure's data and annotations that holds a tag."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            if any(tag in value.lower() for tag in ("<a", "<img", "<b>")):
                found.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key not in ("hovertemplate", "template"):  # the app's own constant markup
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(figure.get("data", []))
    walk(figure.get("layout", {}).get("annotations", []))
    return found


def test_performance_and_error_charts_escape_data(client, dash_app, pg_engine):
    now = utc_now()
    insert_runs(pg_engine, [
        Run(LINK, f"<b>{n}</b>", status, timedelta(hours=n + 2), timedelta(hours=n + 1), 10, 5, 5,
            error=f"{IMG} failed {n}" if status == "failed" else None)
        for n in range(3) for status in ("success", "failed")], now)
    performance = call(client, dash_app, f"{ids.DURATION_CHART}.figure", {ids.PERFORMANCE_RANGE: "7d"})
    charts = [props["figure"] for props in performance.values() if "figure" in props]
    assert len(charts) == 5
    for chart in charts:
        assert markup_in(chart) == [], chart.get("layout", {}).get("title")
    legend = {trace.get("name") for trace in performance[ids.DURATION_CHART]["figure"]["data"]}
    assert any("&lt;a href" in (name or "").lower() for name in legend), legend  # the text is there, escaped
    errors = call(client, dash_app, f"{ids.ERRORS_CLASS_CHART}.figure", {ids.ERRORS_RANGE: "7d"})
    chart = errors[ids.ERRORS_CLASS_CHART]["figure"]
    assert markup_in(chart) == [] and "&lt;img" in json.dumps(chart["data"])


def test_every_builder_escapes_its_labels():
    assert figures.label(LINK) == '&lt;a href="https://evil.example"&gt;x&lt;/a&gt;'
    empty = figures.empty("t", IMG).to_plotly_json()
    assert markup_in(empty) == []
    breakers = [{"breaker": LINK, "transitions": [{"at": "2026-11-20T10:00:00Z", "to": "OPEN", "reason": IMG}]}]
    assert markup_in(figures.breaker_timeline(breakers, "none").to_plotly_json()) == []
    series = [{"crm_source": LINK, "bucket": "2026-11-20T10:00:00Z", "calls": 3, "avg_ms": 1.0}]
    assert markup_in(figures.api_series(series, "calls", "Calls", "none").to_plotly_json()) == []
    history = [{"crm_source": LINK, "endpoint": IMG, "at": "2026-11-20T10:00:00Z", "remaining": 3}]
    assert markup_in(figures.remaining_history(history, "none").to_plotly_json()) == []
