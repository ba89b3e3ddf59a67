"""Plotly figures, all on one shared template, built from the DataFrames of ``queries/``.

An empty DataFrame gives a figure that says why it is empty instead of blank axes.

Plotly renders a subset of HTML in every label (``<a href>``, ``<b>``, ``<br>``...): each string
that came from data (trace names, categories, hover text, annotations) goes through ``label``,
which escapes it, so a CRM named ``<a href="...">x</a>`` shows as that text and never as a link.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from dashapp.display import crm_name

TEMPLATE = "sync_monitor"
COLOURS = ["#0d6efd", "#20c997", "#fd7e14", "#6f42c1", "#d63384", "#198754", "#0dcaf0", "#ffc107",
           "#6c757d", "#dc3545"]

pio.templates[TEMPLATE] = go.layout.Template(
    layout=go.Layout(
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12},
        colorway=COLOURS,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        paper_bgcolor="white",
        plot_bgcolor="white",
        xaxis={"gridcolor": "#eee", "zerolinecolor": "#ddd"},
        yaxis={"gridcolor": "#eee", "zerolinecolor": "#ddd", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
    )
)


def label(text: object) -> str:
    """A data-derived string for Plotly: its markup characters escaped (Plotly shows the entities
    as the characters themselves)."""
    return html.escape(str(text), quote=False)


def crm_label(crm: object) -> str:
    return label(crm_name(crm))


def _figure(title: str) -> go.Figure:
    return go.Figure(layout={"template": TEMPLATE, "title": {"text": title, "x": 0, "font": {"size": 14}}})


def empty(title: str, why: str) -> go.Figure:
    figure = _figure(title)
    figure.add_annotation(text=label(why), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                          font={"color": "#6c757d", "size": 13})
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def duration_trend(frame: pd.DataFrame, why_empty: str) -> go.Figure:
    title = "Sync duration: daily median and p95 (seconds)"
    if frame.empty:
        return empty(title, why_empty)
    figure = _figure(title)
    crowded = frame["crm_source"].nunique() > 3  # then p95 lines start hidden; the legend shows them
    for index, (crm, rows) in enumerate(frame.groupby("crm_source", sort=True)):
        colour = COLOURS[index % len(COLOURS)]
        name = crm_label(crm) if crm != "all" else "All CRMs"
        figure.add_scatter(x=rows["day"], y=rows["p50"], name=f"{name} p50", mode="lines+markers",
                           line={"color": colour}, legendgroup=label(crm))
        figure.add_scatter(x=rows["day"], y=rows["p95"], name=f"{name} p95", mode="lines",
                           line={"color": colour, "dash": "dot"}, legendgroup=label(crm),
                           visible="legendonly" if crowded else True)
    return figure


def records_by_crm(frame: pd.DataFrame, why_empty: str) -> go.Figure:
    title = "Records processed by CRM"
    if frame.empty:
        return empty(title, why_empty)
    figure = _figure(title)
    figure.add_bar(x=[crm_label(c) for c in frame["crm_source"]], y=frame["records"], marker_color=COLOURS[0])
    figure.update_layout(hovermode="closest")
    return figure


def success_rate_trend(frame: pd.DataFrame, why_empty: str) -> go.Figure:
    title = "Success rate per day (%)"
    if frame.empty:
        return empty(title, why_empty)
    figure = _figure(title)
    figure.add_scatter(x=frame["day"], y=frame["success_rate"].astype(float), mode="lines+markers",
                       name="success rate", line={"color": "#198754"},
                       customdata=frame[["completed", "failed", "partial"]],
                       hovertemplate="%{y:.2f}% = %{customdata[0]} ok / (%{customdata[0]} ok + %{customdata[1]} "
                                     "failed); %{customdata[2]} partial counted apart<extra></extra>")
    if "partial_rate" in frame:
        figure.add_scatter(x=frame["day"], y=frame["partial_rate"].astype(float), mode="lines+markers",
                           name="partial rate", line={"color": "#fd7e14", "dash": "dot"},
                           hovertemplate="%{y:.2f}% partial of all finished runs<extra></extra>")
    figure.update_yaxes(range=[0, 100.5], rangemode=None)
    return figure


def runs_per_day(frame: pd.DataFrame, why_empty: str) -> go.Figure:
    title = "Sync frequency: runs per day"
    if frame.empty:
        return empty(title, why_empty)
    figure = _figure(title)
    for crm, rows in frame.groupby("crm_source", sort=True):
        figure.add_bar(x=rows["day"], y=rows["runs"], name=crm_label(crm))
    figure.update_layout(barmode="stack")
    return figure


def throughput(frame: pd.DataFrame, why_empty: str) -> go.Figure:
    title = "Throughput: records per second"
    if frame.empty:
        return empty(title, why_empty)
    figure = _figure(title)
    ordered = frame.sort_values("records_per_second")
    labels = [label(f"{crm_name(c)} · {t}") for c, t in zip(ordered["crm_source"], ordered["sync_type"], strict=True)]
    figure.add_bar(x=ordered["records_per_second"].astype(float), y=labels, orientation="h",
                   marker_color=COLOURS[1], customdata=ordered["runs"],
                   hovertemplate="%{x:.1f} records/s over %{customdata} runs<extra></extra>")
    figure.update_layout(hovermode="closest", height=max(300, 28 * len(ordered) + 80), margin={"l": 170})
    return figure


def error_classes(classes: list[dict], why_empty: str) -> go.Figure:
    """Bars of error classes (records of /api/errors), failed runs red and partial runs amber,
    stacked; each bar carries its history link."""
    title = "Error classes"
    if not classes:
        return empty(title, why_empty)
    top = classes[:12]
    shown = list(reversed(top))
    labels = [label(f"{len(top) - i}. {_short(c['error_class'])}") for i, c in enumerate(shown)]  # unique per bar
    figure = _figure(title)
    for kind, colour in (("failed", "#dc3545"), ("partial", "#fd7e14")):
        figure.add_bar(
            x=[c.get(kind, c["count"] if kind == "failed" else 0) for c in shown], y=labels, orientation="h",
            name=kind, marker_color=colour, customdata=[[c["history_link"], label(c["sample"])] for c in shown],
            hovertemplate=f"%{{x}} {kind} runs<br>%{{customdata[1]}}<extra></extra>",
        )
    figure.update_layout(hovermode="closest", barmode="stack", height=max(300, 34 * len(shown) + 90))
    figure.update_yaxes(automargin=True)
    return figure


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def api_series(series: list[dict], value: str, title: str, why_empty: str) -> go.Figure:
    """Lines per CRM over time from /api/api-stats' ``series`` (``value``: calls or avg_ms)."""
    if not series:
        return empty(title, why_empty)
    figure = _figure(title)
    frame = pd.DataFrame(series)
    for crm, rows in frame.groupby("crm_source", sort=True):
        figure.add_scatter(x=pd.to_datetime(rows["bucket"]), y=rows[value], name=crm_label(crm), mode="lines")
    return figure


STATE_COLOURS = {"CLOSED": "#198754", "HALF_OPEN": "#ffc107", "OPEN": "#dc3545"}


def breaker_timeline(breakers: list[dict], why_empty: str) -> go.Figure:
    """Each breaker's transitions in the window, coloured by the state entered."""
    title = "Circuit-breaker transitions"
    points = [(b["breaker"], t) for b in breakers for t in b["transitions"]]
    if not points:
        return empty(title, why_empty)
    figure = _figure(title)
    for state, colour in STATE_COLOURS.items():
        mine = [(name, t) for name, t in points if t["to"] == state]
        figure.add_scatter(x=pd.to_datetime([t["at"] for _, t in mine]), y=[label(name) for name, _ in mine],
                           mode="markers", name=f"→ {state}", marker={"color": colour, "size": 9},
                           customdata=[label(t["reason"]) for _, t in mine],
                           hovertemplate="%{y}<br>%{x}<br>%{customdata}<extra></extra>")
    figure.update_layout(hovermode="closest", height=max(260, 30 * len(breakers) + 120))
    figure.update_yaxes(automargin=True)
    return figure


def remaining_history(history: list[dict], why_empty: str) -> go.Figure:
    """The lowest remaining quota per period, one line per CRM endpoint (/api/rate-limits' history)."""
    title = "Rate limit: lowest remaining per period"
    if not history:
        return empty(title, why_empty)
    figure = _figure(title)
    frame = pd.DataFrame(history)
    for (crm, endpoint), rows in frame.groupby(["crm_source", "endpoint"], sort=True):
        figure.add_scatter(x=pd.to_datetime(rows["at"]), y=rows["remaining"], mode="lines",
                           name=label(f"{crm_name(crm)} {_short(endpoint, 30)}"), line={"shape": "hv"})
    return figure
