"""Plotly figures, all on one shared template, built from the DataFrames of ``queries/``.

An empty DataFrame gives a figure that says why it is empty instead of blank axes.

Plotly renders a subset of HTML in every label (``<a href>``, ``<b>``, ``<br>``...): each string
that came from data (trace names, categories, hover text, annotations) goes through ``label``,
which escapes it, so a CRM named ``<a href="...">x</a>`` shows as that text and never as a link.
"""

from __future__ import annotations

import html
import os
from datetime import UTC, date, datetime, time

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from dashapp.display import crm_name, zone_name

TEMPLATE = "sync_monitor"
TEMPLATE_DARK = "sync_monitor_dark"
COLOURS = ["#0d6efd", "#20c997", "#fd7e14", "#6f42c1", "#d63384", "#198754", "#0dcaf0", "#ffc107",
           "#6c757d", "#dc3545"]

# The legend sits in the figure's container, at its bottom, under the x axis title: Plotly reserves
# the room a container-referenced legend takes (the plot area shrinks; the legend never lies on
# ticks or titles) and wraps a horizontal legend to the figure's width. Axes push their margins
# for their tick labels and titles (automargin), and a title keeps its distance from the ticks.
LEGEND = {"orientation": "h", "xref": "container", "x": 0, "xanchor": "left", "yref": "container", "y": 0,
          "yanchor": "bottom", "font": {"size": 11}, "itemsizing": "constant", "tracegroupgap": 4}
AXIS_TITLE = {"font": {"size": 11}, "standoff": 8}

pio.templates[TEMPLATE] = go.layout.Template(
    layout=go.Layout(
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12, "color": "#212529"},
        colorway=COLOURS,
        margin={"l": 8, "r": 12, "t": 40, "b": 6, "pad": 2},
        paper_bgcolor="white",
        plot_bgcolor="white",
        xaxis={"gridcolor": "#eee", "zerolinecolor": "#ddd", "automargin": True, "title": AXIS_TITLE},
        yaxis={"gridcolor": "#eee", "zerolinecolor": "#ddd", "rangemode": "tozero", "automargin": True,
               "title": AXIS_TITLE},
        legend=LEGEND,
        hovermode="x unified",
        hoverlabel={"namelength": -1},  # the hover names the series in full (phones have no legend)
    )
)

def label(text: object) -> str:
    """A data-derived string for Plotly: its markup characters escaped (Plotly shows the entities
    as the characters themselves)."""
    return html.escape(str(text), quote=False)


def crm_label(crm: object) -> str:
    return label(crm_name(crm))


# The same template on Bootstrap's dark body (#212529): text #dee2e6 (13.4:1), muted #adb5bd (8.3:1).
DARK_BACKGROUND = "#212529"
pio.templates[TEMPLATE_DARK] = go.layout.Template(pio.templates[TEMPLATE]).update(layout={
    "font": {"color": "#dee2e6"}, "paper_bgcolor": DARK_BACKGROUND, "plot_bgcolor": DARK_BACKGROUND,
    "xaxis": {"gridcolor": "#343a40", "zerolinecolor": "#495057", "linecolor": "#495057"},
    "yaxis": {"gridcolor": "#343a40", "zerolinecolor": "#495057", "linecolor": "#495057"},
    "hoverlabel": {"bgcolor": "#343a40", "font": {"color": "#f8f9fa"}, "bordercolor": "#6c757d"},
    "legend": {"bgcolor": "rgba(0,0,0,0)"},
})
MUTED = {"light": "#6c757d", "dark": "#adb5bd"}  # 4.7:1 on white, 8.3:1 on #212529


def theme_of(mode: str | None) -> str:
    """The template for the viewer's theme (the THEME_MODE store): dark, else light."""
    return TEMPLATE_DARK if mode == "dark" else TEMPLATE


def themed(figure: go.Figure | dict, mode: str | None) -> go.Figure:
    """``figure`` on the template of the viewer's theme, light or dark (so a figure switches both
    ways), its notes (annotations) in that theme's muted colour. A figure's dict (a dcc.Graph's
    current ``figure``) is accepted too, for re-theming a drawn chart."""
    figure = go.Figure(figure) if isinstance(figure, dict) else figure
    figure.update_layout(template=theme_of(mode))
    figure.update_annotations(font_color=MUTED["dark" if mode == "dark" else "light"])
    return figure


def in_zone(values: object, zone: str | None) -> pd.Series:
    """UTC times as wall-clock times in ``zone`` (Plotly draws a date as it is written)."""
    moments = pd.to_datetime(pd.Series(values), utc=True, format="ISO8601")  # no guessing per call
    try:
        return moments.dt.tz_convert(zone or "UTC").dt.tz_localize(None)
    except Exception:  # an unknown zone: UTC, and the axis title says UTC
        return moments.dt.tz_localize(None)


def time_axis(figure: go.Figure, zone: str | None) -> go.Figure:
    """The x axis titled with the zone its times are in: "time (CET)"."""
    figure.update_xaxes(title_text=f"time ({zone_name(zone)})")
    return figure


def day_axis(figure: go.Figure) -> go.Figure:
    """Days are counted in UTC (SQL groups by the UTC day): the x axis says so."""
    if figure.data:
        figure.update_xaxes(title_text="day (UTC)")
    return figure


def _figure(title: str) -> go.Figure:
    return go.Figure(layout={"template": TEMPLATE, "title": {"text": title, "x": 0, "font": {"size": 14}}})


def empty(title: str, why: str) -> go.Figure:
    figure = _figure(title)
    figure.add_annotation(text=label(why), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                          font={"color": MUTED["light"], "size": 13})
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def duration_trend(frame: pd.DataFrame, why_empty: str) -> go.Figure:
    """One line per CRM (its daily median) and its p95 dotted in the same colour. The legend has one
    entry per CRM and one for every p95 line (hidden at first when more than three CRMs are drawn):
    20 series would take the plot's height in legend; the hover gives both numbers either way."""
    title = "Duration (s): daily median and p95"
    if frame.empty:
        return empty(title, why_empty)
    figure = _figure(title)
    crowded = frame["crm_source"].nunique() > 3
    for index, (crm, rows) in enumerate(frame.groupby("crm_source", sort=True)):
        colour = COLOURS[index % len(COLOURS)]
        name = crm_label(crm) if crm != "all" else "All CRMs"
        figure.add_scatter(x=rows["day"], y=rows["p50"], name=name, mode="lines+markers", legendgroup=name,
                           line={"color": colour}, customdata=rows[["p95"]].astype(float),
                           hovertemplate="p50 %{y:.1f} s · p95 %{customdata[0]:.1f} s")
        figure.add_scatter(x=rows["day"], y=rows["p95"], name=f"{name} p95", mode="lines", legendgroup="p95",
                           line={"color": colour, "dash": "dot", "width": 1.5}, showlegend=False,
                           hovertemplate="p95 %{y:.1f} s", visible="legendonly" if crowded else True)
    # the legend's one p95 entry: a click shows or hides every p95 line (their legend group)
    figure.add_scatter(x=[None], y=[None], name="p95 (dotted)", mode="lines", legendgroup="p95", legendrank=2000,
                       line={"color": MUTED["light"], "dash": "dot"}, hoverinfo="skip",
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


def runs_per_day(frame: pd.DataFrame, why_empty: str, today: date | None = None, start: datetime | None = None,
                 end: datetime | None = None) -> go.Figure:
    """Stacked bars of runs per day and CRM. A day the window covers only in part is drawn hatched
    with its hover saying so, instead of reading as a slow day: ``today`` (UTC, still in progress),
    the day ``start`` falls inside, and the day a past ``end`` falls inside (aware datetimes)."""
    title = "Sync frequency: runs per day"
    if frame.empty:
        return empty(title, why_empty)
    in_part = _days_in_part(today, start, end)
    figure = _figure(title)
    for crm, rows in frame.groupby("crm_source", sort=True):
        notes = [in_part.get(_day(d)) for d in rows["day"]]
        figure.add_bar(x=rows["day"], y=rows["runs"], name=crm_label(crm),
                       marker={"pattern": {"shape": ["/" if n else "" for n in notes], "solidity": 0.5}},
                       hovertemplate=[f"%{{y}} {n}" if n else "%{y}" for n in notes])
    figure.update_layout(barmode="stack", legend_traceorder="normal")  # the legend in the CRMs' order
    return figure


def _days_in_part(today: date | None, start: datetime | None, end: datetime | None) -> dict[date, str]:
    """The days the window covers in part (UTC), each with the words its hover adds."""
    notes: dict[date, str] = {}
    for moment, words in ((start, "from {:%H:%M} UTC (the window starts that day)"),
                          (end, "until {:%H:%M} UTC (the window ends that day)")):
        if moment is not None and moment.astimezone(UTC).time() != time(0):
            notes[moment.astimezone(UTC).date()] = words.format(moment.astimezone(UTC))
    if today is not None:
        notes[today] = "so far (today, UTC)"
    return notes


def _day(value: object) -> date | None:
    try:
        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        return None


def throughput(frame: pd.DataFrame, why_empty: str) -> go.Figure:
    title = "Throughput: records per second"
    if frame.empty:
        return empty(title, why_empty)
    figure = _figure(title)
    ordered = frame.sort_values("records_per_second")
    names = [f"{crm_name(c)} · {t}" for c, t in zip(ordered["crm_source"], ordered["sync_type"], strict=True)]
    figure.add_bar(x=ordered["records_per_second"].astype(float), y=[label(n) for n in _unique_short(names, 22)],
                   orientation="h", marker_color=COLOURS[1],
                   customdata=list(zip(ordered["runs"], [label(n) for n in names], strict=True)),
                   hovertemplate="%{customdata[1]}<br>%{x:.1f} records/s over %{customdata[0]} runs<extra></extra>")
    figure.update_layout(hovermode="closest", height=max(300, 28 * len(ordered) + 80))
    return figure


def error_classes(classes: list[dict], why_empty: str) -> go.Figure:
    """Bars of error classes (records of /api/errors), failed runs red and partial runs amber,
    stacked; each bar carries its history link."""
    title = "Error classes"
    if not classes:
        return empty(title, why_empty)
    top = classes[:12]
    shown = list(reversed(top))
    # short enough to leave the bars room on a phone (390 px); the whole class is in the hover
    labels = [label(text) for text in error_labels([c["error_class"] for c in shown], len(top))]
    figure = _figure(title)
    for kind, colour in (("failed", "#dc3545"), ("partial", "#fd7e14")):
        figure.add_bar(
            x=[c.get(kind, c["count"] if kind == "failed" else 0) for c in shown], y=labels, orientation="h",
            name=kind, marker_color=colour,
            customdata=[[c["history_link"], label(c["sample"]), label(c["error_class"])] for c in shown],
            hovertemplate=f"%{{customdata[2]}}<br>%{{x}} {kind} runs<br>%{{customdata[1]}}<extra></extra>",
        )
    figure.update_layout(hovermode="closest", barmode="stack", height=max(300, 34 * len(shown) + 90))
    figure.update_yaxes(automargin=True, tickfont={"size": 11})  # leaves the bars room at 390 px
    return figure


def error_labels(classes: list[str], top: int, width: int = 26) -> list[str]:
    """The error classes' axis labels (``classes`` bottom-up, so the first is number ``top``): its
    rank and as much of its text as tells it from the others, within ``width`` characters."""
    ranks = [top - i for i in range(len(classes))]
    return [f"{rank}. {text}" for rank, text in zip(ranks, _distinct_short(classes, width), strict=True)]


def _distinct_short(names: list[str], width: int) -> list[str]:
    """Each name in ``width`` characters; names that would cut the same keep their beginning and
    then, after "…", the part where they differ: "HTTPError: 429…objects/deals"."""
    cut = [_short(name, width) for name in names]
    head = width // 2 + 2
    for shared in {c for c in cut if cut.count(c) > 1}:
        group = [names[i] for i, c in enumerate(cut) if c == shared]
        common = len(os.path.commonprefix(group))
        for i, c in enumerate(cut):
            if c == shared and common < len(names[i]):
                word = max(names[i].rfind(mark, 0, common) for mark in " /:=?&.,")  # the differing word's start
                start = max(head, word + 1 if word >= common - 12 else common - 4)
                cut[i] = names[i][:head].rstrip() + "…" + _short(names[i][start:], width - head)
    return _unique_short(cut, width + 4)


def _unique_short(names: list[str], width: int) -> list[str]:
    """Each name cut to ``width`` (its full text in the hover), kept apart when two cut the same."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        label = _short(name, width)
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return labels


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def api_series(series: list[dict], value: str, title: str, why_empty: str, zone: str | None = None) -> go.Figure:
    """Lines per CRM over time from /api/api-stats' ``series`` (``value``: calls or avg_ms), in ``zone``.

    A bucket still in progress (``partial``: its end is after the window's end, now) is not drawn as
    a full one: the line stops at the last whole bucket, and a dotted segment leads to a hollow
    marker whose hover says "so far", instead of a plunge."""
    if not series:
        return empty(title, why_empty)
    figure = _figure(title)
    frame = pd.DataFrame(series)
    frame["x"] = in_zone(frame["bucket"], zone)  # once for every line
    frame["partial"] = frame["partial"].fillna(False).astype(bool) if "partial" in frame else False
    number = ",.0f" if value == "calls" else ",.1f"
    for index, (crm, rows) in enumerate(frame.groupby("crm_source", sort=True)):
        name, colour = crm_label(crm), COLOURS[index % len(COLOURS)]
        whole, partial = rows[~rows["partial"]], rows[rows["partial"]]
        figure.add_scatter(x=whole["x"], y=whole[value], name=name, mode="lines", legendgroup=name,
                           line={"color": colour}, hovertemplate=f"%{{y:{number}}}")
        if partial.empty:
            continue
        joined = pd.concat([whole.tail(1), partial])
        figure.add_scatter(x=joined["x"], y=joined[value], mode="lines", legendgroup=name, showlegend=False,
                           line={"color": colour, "dash": "dot"}, hoverinfo="skip", name=f"{name} so far")
        figure.add_scatter(x=partial["x"], y=partial[value], mode="markers", legendgroup=name, showlegend=False,
                           name=f"{name} (so far)", marker={"color": colour, "symbol": "circle-open", "size": 8,
                                                            "line": {"width": 2}},
                           hovertemplate=f"%{{y:{number}}} so far (this bucket is still filling)")
    return time_axis(figure, zone)


STATE_COLOURS = {"CLOSED": "#198754", "HALF_OPEN": "#ffc107", "OPEN": "#dc3545"}


def breaker_bands(breaker: dict, start: str, end: str) -> list[tuple[str, str, str, str]]:
    """(state, from, to, reason) spans of one breaker over [start, end): the state before its first
    transition in the window, then each state entered until the next transition. Transitions at one
    instant (HALF_OPEN then CLOSED) give a zero-length span, so the last state wins, as it did."""
    transitions = breaker["transitions"]
    bands = []
    state = transitions[0]["from"] if transitions else breaker["state"]
    since, reason = start, "state at the window's start"
    for transition in transitions:
        bands.append((state, since, transition["at"], reason))
        state, since, reason = transition["to"], transition["at"], transition["reason"] or ""
    bands.append((state, since, end, reason))
    return [band for band in bands if band[2] > band[1] or band is bands[-1]]


def breaker_timeline(breakers: list[dict], why_empty: str, start: str | None = None, end: str | None = None,
                     zone: str | None = None) -> go.Figure:
    """A state timeline: one band per breaker, each state coloured for as long as it lasted
    (CLOSED green, HALF_OPEN amber, OPEN red), over the window [start, end) in ``zone``."""
    title = "Circuit-breaker states"
    if not breakers or start is None or end is None:
        return empty(title, why_empty)
    figure = _figure(title)
    spans = [(b["breaker"], *band) for b in breakers for band in breaker_bands(b, start, end)]
    for state, colour in STATE_COLOURS.items():
        mine = [span for span in spans if span[1] == state]
        if not mine:
            continue
        begins, ends = in_zone([s[2] for s in mine], zone), in_zone([s[3] for s in mine], zone)
        lengths = [(b - a).total_seconds() * 1000 for a, b in zip(begins, ends, strict=True)]
        figure.add_bar(
            base=begins, x=lengths, y=[label(s[0]) for s in mine], orientation="h", name=state,
            marker={"color": colour, "line": {"width": 0}},
            customdata=[[a.strftime("%Y-%m-%d %H:%M:%S"), b.strftime("%Y-%m-%d %H:%M:%S"), label(s[4])]
                        for a, b, s in zip(begins, ends, mine, strict=True)],
            hovertemplate=f"%{{y}}: {state}<br>%{{customdata[0]}} – %{{customdata[1]}} ({zone_name(zone)})"
                          "<br>%{customdata[2]}<extra></extra>",
        )
    figure.update_layout(hovermode="closest", barmode="overlay", bargap=0.35,
                         height=max(220, 40 * len(breakers) + 160))  # the bands, and under them the legend
    figure.update_xaxes(type="date")
    figure.update_yaxes(automargin=True, autorange="reversed")
    return time_axis(figure, zone)


def remaining_history(history: list[dict], why_empty: str, zone: str | None = None) -> go.Figure:
    """The lowest remaining quota per period, one line per CRM endpoint (/api/rate-limits' history)."""
    title = "Rate limit: lowest remaining per period"
    if not history:
        return empty(title, why_empty)
    figure = _figure(title)
    frame = pd.DataFrame(history)
    frame["x"] = in_zone(frame["at"], zone)  # once for every line
    for (crm, endpoint), rows in frame.groupby(["crm_source", "endpoint"], sort=True):
        figure.add_scatter(x=rows["x"], y=rows["remaining"], mode="lines",
                           name=label(f"{crm_name(crm)} {_short(endpoint, 30)}"), line={"shape": "hv"})
    return time_axis(figure, zone)
