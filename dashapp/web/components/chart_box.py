"""A chart with its "Legend" button: on phones (< 576 px) a chart's legend is hidden, the hover
naming the series, and the button shows it (assets/charts.js, assets/charts.css); the button is not
shown on wider screens, where every legend sits under its chart."""

from __future__ import annotations

from dash import dcc, html


def legend_toggle(graph_id: str) -> html.Button:
    return html.Button("Legend", type="button", className="chart-legend-toggle d-sm-none",
                       title="Show or hide this chart's legend", **{"data-graph": graph_id})


def chart(graph: dcc.Graph) -> html.Div:
    """``graph`` with its legend button above it."""
    return html.Div([legend_toggle(graph.id), graph], className="chart-box")
