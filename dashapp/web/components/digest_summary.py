"""The morning digest's summary as a card (``summary_card``), for the timeline page's day summary
(``ids.TIMELINE_DAY_SUMMARY``): runs, failure and partial rates with an arrow against the week
before, the worst CRM, the incidents (each a link to its stretch of the timeline) and the syncs late
now. It renders ``dashapp.payloads.digest.digest_json``'s answer (links already under URL_PREFIX);
every value from data is React text, never markup."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp import display, runtime


def _zone() -> str | None:
    return runtime.current.settings.display_timezone if runtime.current.settings is not None else None


def _when(value: object) -> str:
    return display.local_clock(value, _zone()) or "—"


def _arrow(points: float | None, week_rate: float) -> html.Span:
    """▲ worse (up), ▼ better (down), = the same, against the week before; nothing to compare: a note."""
    if points is None:
        return html.Span("no runs the week before to compare", className="digest-change text-muted small ms-2")
    if points > 0:
        symbol, colour, words = "▲", "text-danger", f"up {points:.2f} points"
    elif points < 0:
        symbol, colour, words = "▼", "text-success", f"down {abs(points):.2f} points"
    else:
        symbol, colour, words = "=", "text-muted", "unchanged"
    return html.Span(f"{symbol} {words} (week before {week_rate:.2f}%)", className=f"digest-change {colour} small ms-2",
                     title="against the 7 days before this window")


def _figure(label: str, value: str, extra: Any = None) -> dbc.Col:
    return dbc.Col(html.Div([html.Div(label, className="text-muted small"),
                             html.Div([html.Span(value, className="fs-5 fw-semibold digest-value"), extra])]),
                   xs=12, md=4, className="mb-2")


def _incident(incident: dict) -> html.Li:
    ended = "still open" if incident["still_open"] else f"resolved {_when(incident['resolved'])}"
    lost = [] if incident["runs_lost"] is None else [f", {display.plural(incident['runs_lost'], 'run')} lost"]
    return html.Li([
        dcc.Link(f"{incident['name']} {incident['sync_type']}", href=incident["timeline_link"],
                 className="digest-incident-link"),
        f": from {_when(incident['started'])}, {ended}, {incident['length']}", *lost,
    ], className="digest-incident")


def _incidents(payload: dict) -> list:
    total, shown = payload["incidents_total"], payload["incidents"]
    if not total:
        return [html.Div("No incidents.", className="text-muted small digest-no-incidents")]
    items = [_incident(i) for i in shown]
    if total > len(shown):
        items.append(html.Li(f"and {total - len(shown):,} more on the timeline", className="text-muted"))
    return [html.Ul(items, className="mb-0 small digest-incidents")]


def _late(payload: dict) -> list:
    if payload["late"] is None:
        note = display.sentence(str(payload["late_note"] or ""))
        return [html.Div(note, className="text-muted small digest-late-note")]
    if not payload["late"]:
        return [html.Div("No sync is late.", className="text-muted small digest-no-late")]
    items = [html.Li(f"{late['name']} {late['sync_type']}: {late['state_reason']}", className="digest-late")
             for late in payload["late"]]
    if payload["late_total"] > len(payload["late"]):
        items.append(html.Li(f"and {payload['late_total'] - len(payload['late']):,} more", className="text-muted"))
    return [html.Ul(items, className="mb-0 small digest-late-list")]


def summary_card(payload: dict) -> dbc.Card:
    """The digest ``payload`` (``/api/digest``'s answer) as a card."""
    title = (f"Day {payload['day']}" if payload.get("day")
             else "The last 24 hours" if payload.get("late") is not None else "The 24 hours")  # ... to a past end
    worst = payload["worst_crm"]
    worst_text = (f"{worst['name']}: {worst['failed']:,} failed, {worst['partial']:,} partial of "
                  f"{display.plural(worst['runs'], 'run')}" if worst else "none: no run failed")
    change, week = payload["change"], payload["week_before"]
    more = " or more" if payload.get("incidents_truncated") else ""
    return dbc.Card([
        dbc.CardHeader([
            html.Span(title, className="fw-semibold digest-title"),
            html.Span(f" {_when(payload['start'])} – {_when(payload['end'])}", className="text-muted small ms-2"),
            dcc.Link("open on the timeline", href=payload["timeline_link"], className="small ms-2 digest-day-link"),
        ]),
        dbc.CardBody([
            dbc.Row([
                _figure("Runs", f"{payload['runs']:,}",
                        html.Span(f"{payload['completed']:,} completed, {payload['failed']:,} failed, "
                                  f"{payload['partial']:,} partial; {week['runs_per_day']:,} a day the week before",
                                  className="text-muted small ms-2")),
                _figure("Failure rate", f"{payload['failure_rate']:.2f}%",
                        _arrow(change["failure_rate"], week["failure_rate"])),
                _figure("Partial rate", f"{payload['partial_rate']:.2f}%",
                        _arrow(change["partial_rate"], week["partial_rate"])),
            ]),
            html.Div([html.Span("Worst CRM: ", className="text-muted"),
                      html.Span(worst_text, className="digest-worst")], className="mb-2"),
            html.Div(f"Incidents ({payload['incidents_total']:,}{more})", className="fw-semibold small"),
            *_incidents(payload),
            html.Div("Late syncs" + ("" if payload["late"] is None else f" now ({payload['late_total']:,})"),
                     className="fw-semibold small mt-2"),
            *_late(payload),
        ]),
    ], className="shadow-sm mb-3 digest-summary")
