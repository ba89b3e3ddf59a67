"""The run page's two figures, on the shared template: the run's API calls over its duration,
and the runs of the same CRM and type before it with this one marked. Text from the data is
HTML-escaped before it reaches a Plotly label or hover (Plotly renders a subset of HTML)."""

from __future__ import annotations

import html
from datetime import datetime

from dashapp.web.components.figures import STATE_COLOURS, _figure, empty

CALL_CLASSES = (  # (name, colour, test on a call's status)
    ("2xx/3xx", "#198754", lambda s: s is not None and s < 400),
    ("429", "#fd7e14", lambda s: s == 429),
    ("other 4xx", "#d63384", lambda s: s is not None and 400 <= s < 500 and s != 429),
    ("5xx", "#dc3545", lambda s: s is not None and s >= 500),
    ("no response", "#6c757d", lambda s: s is None),
)


def _at(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else None


def calls_timeline(page: dict):
    """Each call as a point: seconds since the run started (x), its latency (y), coloured by its
    status class; breaker transitions as vertical lines."""
    title = "API calls over the run (latency, ms)"
    calls, run = page["api_calls"], page["run"]
    if not calls:
        return empty(title, "No API calls recorded for this run.")
    started = _at(run["start_time"])
    figure = _figure(title)
    for name, colour, test in CALL_CLASSES:
        mine = [c for c in calls if test(c["status"])]
        if not mine:
            continue
        figure.add_scatter(
            x=[(_at(c["called_at"]) - started).total_seconds() for c in mine], y=[c["duration_ms"] for c in mine],
            mode="markers", name=name, marker={"color": colour, "size": 8},
            customdata=[[html.escape(c["method"]), html.escape(c["endpoint"]), "—" if c["status"] is None
                         else c["status"], html.escape(c["error"] or "")] for c in mine],
            hovertemplate="+%{x:.0f} s · %{customdata[0]} %{customdata[1]}<br>status %{customdata[2]} · "
                          "%{y:.0f} ms<br>%{customdata[3]}<extra></extra>")
    for event in page["breaker_events"]:
        figure.add_vline(x=(_at(event["occurred_at"]) - started).total_seconds(),
                         line={"color": STATE_COLOURS.get(event["to_state"], "#6c757d"), "dash": "dot"},
                         annotation_text=html.escape(f"{event['breaker']} → {event['to_state']}"),
                         annotation_font_size=10)
    figure.update_layout(hovermode="closest", height=300)
    figure.update_xaxes(title_text="seconds since the run started")
    return figure


def previous_runs(page: dict):
    """Durations (bars) and records (line) of the previous runs, oldest first, this run marked."""
    title = "This run against the ones before it"
    run = page["run"]
    runs = [*reversed(page["previous_runs"]), {**run, "this": True}]
    if len(runs) == 1:
        return empty(title, "No earlier run of this CRM and sync type.")
    labels = [f"#{r['id']}" for r in runs]
    colours = ["#0d6efd" if r.get("this") else ("#dc3545" if r["status_class"] == "failed" else "#adb5bd")
               for r in runs]
    figure = _figure(title)
    figure.add_bar(x=labels, y=[r["duration_seconds"] for r in runs], name="duration (s)", marker_color=colours,
                   customdata=[[html.escape(r["status"] or "—")] for r in runs],
                   hovertemplate="%{x} · %{customdata[0]}<br>%{y:.0f} s<extra></extra>")
    figure.add_scatter(x=labels, y=[r["records_processed"] for r in runs], name="records", mode="lines+markers",
                       yaxis="y2", line={"color": "#20c997"},
                       hovertemplate="%{x}<br>%{y:,} records<extra></extra>")
    # no legend: the axis titles say which is which, and a legend's key would take the first bar's
    # colour and sit on the rotated run labels
    figure.update_layout(hovermode="closest", height=280, showlegend=False,
                         xaxis={"type": "category", "tickangle": -60, "automargin": True},
                         yaxis={"title": {"text": "duration (s), bars"}},
                         yaxis2={"title": {"text": "records, line"}, "overlaying": "y", "side": "right",
                                 "rangemode": "tozero", "showgrid": False})
    return figure
