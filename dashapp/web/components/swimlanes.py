"""The timeline's swimlanes figure (``/api/timeline/lanes``'s answer drawn): one lane per CRM, top
to bottom in the answer's order, time on x over the window in the viewer's zone. Incident and late
spans are wide translucent bars behind the lane; runs (or buckets of runs) are narrow bars coloured
by status class; every other event is a marker whose shape and colour say its kind (a kind this
module does not know: a neutral open circle and its name in words). Each bar, span and marker
carries its link in ``customdata`` for the page's click callback. Every data string is escaped
(``figures.label``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go

from dashapp import display
from dashapp.web.components import figures

STATUS_COLOURS = {"success": "#198754", "failed": "#dc3545", "partial": "#b98900", "running": "#0d6efd",
                  "unknown": "#6c757d"}
DARK_STATUS = {"partial": "#ffc107", "unknown": "#adb5bd"}
SPAN_COLOURS = {"incident": "rgba(220, 53, 69, 0.26)", "late": "rgba(253, 126, 20, 0.10)"}
# late spans hatched, so they read apart from incidents in either theme (pink and peach did not)
SPAN_PATTERNS = {"late": {"shape": "/", "fgcolor": "rgba(253, 126, 20, 0.75)", "size": 7, "solidity": 0.25,
                          "fillmode": "overlay"}}
SPAN_NAMES = {"incident": "Incident", "late": "Late"}
# a kind -> (marker symbol, colour, legend name)
POINT_STYLES = {
    "alert_fired": ("triangle-up", "#dc3545", "Alert fired"),
    "alert_acknowledged": ("circle", "#fd7e14", "Alert acknowledged"),
    "alert_resolved": ("triangle-down", "#198754", "Alert resolved"),
    "breaker_opened": ("x", "#dc3545", "Breaker opened"),
    "breaker_closed": ("x", "#198754", "Breaker closed"),
    "rate_limited": ("diamond", "#6f42c1", "Rate limited"),
    "retry_queued": ("star", "#0d6efd", "Retry queued"),
    "retry_resolved": ("star", "#198754", "Retry resolved"),
    "retry_abandoned": ("star", "#dc3545", "Retry abandoned"),
    "health_changed": ("square", "#6c757d", "Health changed"),
}
NEUTRAL = ("circle-open", "#6c757d")
LANE_PX, CHROME_PX = 34, 130  # the figure's height: per lane, and for the axis and the legend
EMPTY_PX = 260  # the height of a figure without lanes
RUN_WIDTH, SPAN_WIDTH = 0.42, 0.86


def kind_words(kind: str) -> str:
    """A kind in words: its legend name, or "Some new kind" for one this module does not know."""
    style = POINT_STYLES.get(kind)
    return style[2] if style else str(kind).replace("_", " ").capitalize()


def point_style(kind: str) -> tuple[str, str]:
    style = POINT_STYLES.get(kind)
    return (style[0], style[1]) if style else NEUTRAL


def _ms(start: str, end: str) -> float:
    return (display.from_iso(end) - display.from_iso(start)).total_seconds() * 1000


def _lines(*parts: object) -> str:
    """Hover text: each part escaped, one a line."""
    return "<br>".join(figures.label(part) for part in parts if part not in (None, ""))


def _zoned(values: Iterable[str | None], zone: str | None) -> list:
    moments = list(values)
    if not moments:
        return []
    return [None if pd.isna(m) else m.isoformat() for m in figures.in_zone(moments, zone)]


def swimlanes(data: dict, zone: str | None, mode: str | None = None) -> go.Figure:
    """The lanes of ``data`` (``lanes_json``) as a figure on the shared template."""
    lanes = data.get("lanes") or []
    if not lanes:
        why = f"No runs or events from {(data.get('start') or '')[:16].replace('T', ' ')} to " \
              f"{(data.get('end') or '')[:16].replace('T', ' ')} UTC for this selection"
        figure = figures.empty("Swimlanes", why)
        figure.update_layout(height=EMPTY_PX)
        return figures.themed(figure, mode)
    row = {lane["lane"]: index for index, lane in enumerate(lanes)}
    names = {lane["lane"]: lane.get("name") or lane["lane"] for lane in lanes}
    colours = {**STATUS_COLOURS, **(DARK_STATUS if mode == "dark" else {})}
    figure = go.Figure()
    for kind in ("incident", "late"):
        spans = [s for s in data.get("spans") or [] if s["kind"] == kind and s["lane"] in row
                 and display.finite(s["start"]) and display.finite(s["end"])]
        if spans:
            figure.add_trace(go.Bar(
                orientation="h", name=SPAN_NAMES[kind], y=[row[s["lane"]] for s in spans],
                base=_zoned((s["start"] for s in spans), zone),
                x=[_ms(s["start"], s.get("drawn_end") or s["end"]) for s in spans],
                width=SPAN_WIDTH, marker={"color": SPAN_COLOURS[kind], "line": {"width": 0},
                                          **({"pattern": SPAN_PATTERNS[kind]} if kind in SPAN_PATTERNS else {})},
                customdata=[[s["href"]] for s in spans], hoverinfo="text",
                hovertext=[_span_text(s, names, zone) for s in spans], meta=kind))
    bars = [(lane["lane"], bar) for lane in lanes for bar in lane.get("bars") or []]
    for status_class in ("success", "partial", "failed", "running", "unknown"):
        mine = [(lane, bar) for lane, bar in bars if bar["status_class"] == status_class]
        if not mine:
            continue
        figure.add_trace(go.Bar(
            orientation="h", name=f"Run {status_class}", y=[row[lane] for lane, _ in mine],
            base=_zoned((bar["start"] for _, bar in mine), zone), x=[_ms(bar["start"], bar["end"]) for _, bar in mine],
            width=RUN_WIDTH, marker={"color": colours[status_class], "line": {"width": 0}},
            customdata=[[bar["href"]] for _, bar in mine], hoverinfo="text",
            hovertext=[_bar_text(bar, names[lane], zone) for lane, bar in mine], meta="run"))
    points = [p for p in data.get("points") or [] if p["lane"] in row and display.finite(p.get("at"))]
    for kind in dict.fromkeys(p["kind"] for p in points):
        mine = [p for p in points if p["kind"] == kind]
        symbol, colour = point_style(kind)
        figure.add_trace(go.Scatter(
            mode="markers", name=figures.label(kind_words(kind)), x=_zoned((p["at"] for p in mine), zone),
            y=[row[p["lane"]] for p in mine], marker={"symbol": symbol, "color": colour, "size": 10,
                                                       "line": {"width": 1, "color": colour}},
            customdata=[[p["href"]] for p in mine], hoverinfo="text", meta="point",
            hovertext=[_lines(kind_words(kind), names[p["lane"]] + (f" · {p['sync_type']}" if p.get("sync_type")
                                                                   else ""),
                              p.get("summary"), display.local_clock(p["at"], zone, seconds=True)) for p in mine]))
    figure.update_layout(
        template=figures.TEMPLATE, barmode="overlay", hovermode="closest", height=CHROME_PX + LANE_PX * len(lanes),
        margin={"t": 10}, clickmode="event", showlegend=True,
        uirevision=f"{data.get('range')}:{data.get('lane_offset')}")  # a zoom survives the refreshes
    figure.update_yaxes(tickvals=list(range(len(lanes))), ticktext=[figures.label(names[lane["lane"]])
                                                                    for lane in lanes],
                        range=[len(lanes) - 0.5, -0.5], showgrid=False, zeroline=False, rangemode="normal",
                        fixedrange=True)
    figure.update_xaxes(type="date", range=_zoned((data["start"], data["end"]), zone))
    return figures.themed(figures.time_axis(figure, zone), mode)


def _span_text(span: dict, names: dict[str, str], zone: str | None) -> str:
    began = "before the window" if span["open_start"] and not span.get("at") else \
        display.local_clock(span.get("at") or span["start"], zone)
    ended = "still open" if span["open_end"] else display.local_clock(span["end"], zone)
    who = names[span["lane"]] + (f" · {span['sync_type']}" if span.get("sync_type") else "")
    return _lines(f"{SPAN_NAMES[span['kind']]}: {who}", f"{began} → {ended}", span.get("summary"),
                  "Click: the overview as of its start")


def _bar_text(bar: dict, name: str, zone: str | None) -> str:
    when = f"{display.local_clock(bar['start'], zone)} → {display.local_clock(bar['end'], zone)}"
    if bar.get("run_id") is None:
        counts = ", ".join(f"{n} {c}" for c, n in (bar.get("counts") or {}).items() if n)
        return _lines(f"{name}: {display.plural(bar['runs'], 'run')} ({counts})", when,
                      "Click: these runs in the history")
    return _lines(f"{name} · {bar.get('sync_type') or ''} · run #{bar['run_id']}", f"{bar.get('status')}", when,
                  "Click: the run's page")
