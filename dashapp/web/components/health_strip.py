"""Service health as coloured pills (the overview's strip) and as detail cards (/health).

Both render the snapshot of ``dashapp.health.snapshot.system_health``, the same JSON /api/system-health
serves.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from dashapp import display
from dashapp.payloads import paths

COLOURS = {"healthy": "success", "degraded": "warning", "unhealthy": "danger", "not_configured": "secondary"}
LABELS = {"database": "Database", "redis": "Redis", "celery": "Celery", "app": "App host"}
LEVEL_CLASSES = {"amber": "text-warning-emphasis fw-semibold", "red": "text-danger fw-semibold"}
HIDDEN = ("status", "error", "workers", "queues", "levels", "slowest_requests")


RECORDED_WORDS = {"healthy": "up", "degraded": "degraded", "unhealthy": "down"}  # a status as recorded, no figures


def _summary(name: str, probe: dict, recorded: bool = False) -> str:
    status = probe.get("status", "unknown")
    if recorded:  # a past moment: the status the app recorded then (``snapshot.recorded_health``)
        return RECORDED_WORDS.get(status, "not recorded")
    if status == "unhealthy" and not (name == "celery" and probe.get("active_workers")):  # red for a backlog: up
        return "down"
    if status == "not_configured":
        return "not configured"
    if name == "database":
        return f"{probe.get('response_time_ms', 0):.0f} ms"
    if name == "redis":
        return f"{probe.get('memory_used_mb', 0):.1f} MB"
    if name == "app":
        return f"CPU {probe.get('process_cpu_percent') or 0:.0f}%, {probe.get('process_memory_mb') or 0:.0f} MB"
    workers, waiting = probe.get("active_workers", 0), probe.get("pending_tasks") or 0
    return f"{workers} worker{'s' if workers != 1 else ''}, {waiting} waiting"


def strip(snapshot: dict) -> list:
    """A pill per service; of a snapshot as of a past moment (``as_of``) the recorded statuses only."""
    pills = []
    recorded = bool(snapshot.get("as_of"))
    for name, label in LABELS.items():
        probe = snapshot.get(name) or {}
        status = probe.get("status", "unknown")
        pills.append(html.A(dbc.Badge(
            [html.Span("●", className="me-1"), f"{label}: {_summary(name, probe, recorded)}"],
            color=COLOURS.get(status, "secondary"), className="me-2 health-pill",
            id=f"health-pill-{name}", title=probe.get("error") or status,
        ), href=paths.href("/health")))
    problems = [f"{LABELS[n]}: {snapshot[n]['error']}" for n in LABELS
                if (snapshot.get(n) or {}).get("status") in ("unhealthy", "degraded") and snapshot[n].get("error")]
    if problems:
        pills.append(html.Div("; ".join(problems), className="small text-danger mt-1", id="health-strip-errors"))
    return pills


UNITS = {"ms": "(ms)", "mb": "(MB)", "gb": "(GB)", "percent": "(%)", "seconds": "(s)"}


def _label(key: str) -> str:
    """``response_time_ms`` as "response time (ms)"."""
    words = key.split("_")
    unit = UNITS.get(words[-1]) if len(words) > 1 else None
    return " ".join(words[:-1] + [unit]) if unit else " ".join(words)


def _value(value: object) -> object:
    """An enum-like value (``not_configured``) in words."""
    enum_like = isinstance(value, str) and "_" in value and value.replace("_", "").isalpha()
    return value.replace("_", " ") if enum_like else value


def uptime(seconds: object) -> str:
    """An uptime as people say it: ``3 d 4 h``, ``2 h 5 min``, ``42 s``; ``—`` when unknown."""
    return display.span(float(seconds)) if isinstance(seconds, int | float) and not isinstance(seconds, bool) else "—"


def _seconds_title(seconds: object) -> str:
    return f"{seconds:,} s" if isinstance(seconds, int) else ""


def _rows(pairs: list[tuple[str, object, str | None]]) -> html.Tbody:
    """A figure per row; one past its amber or red threshold says so in its colour and words."""
    return html.Tbody([html.Tr([
        html.Th(k, className="fw-normal text-muted"),
        html.Td(("—" if v is None else str(v)) + (f" ({level})" if level in LEVEL_CLASSES else ""),
                className=LEVEL_CLASSES.get(level or "", "")),
    ]) for k, v, level in pairs])


def details(snapshot: dict) -> list:
    cards = []
    for name, label in LABELS.items():
        probe = snapshot.get(name) or {}
        status = probe.get("status", "unknown")
        shown = {k: v for k, v in probe.items() if k not in HIDDEN}
        levels = probe.get("levels") or {}
        if "connections_used" in shown and levels.get("connections_percent"):
            levels = {**levels, "connections_used": levels["connections_percent"]}
        pairs = [(_label(k), _value(v), levels.get(k)) if k != "uptime_seconds" else ("uptime", uptime(v), None)
                 for k, v in shown.items()]
        for queue, depth in (probe.get("queues") or {}).items():
            pairs.append((f"queue {queue}", depth, None))
        body = [dbc.Table(_rows(pairs), size="sm", className="mb-2 small", id=f"health-figures-{name}")]
        if probe.get("slowest_requests"):
            head = html.Thead(html.Tr([html.Th("slowest requests (5 min)"), html.Th("s")]))
            rows = [html.Tr([html.Td(f"{r['method']} {r['path']}", className="text-break"),
                             html.Td(f"{r['seconds']:.3f}", className=LEVEL_CLASSES.get(r["level"], ""))])
                    for r in probe["slowest_requests"]]
            body.append(dbc.Table([head, html.Tbody(rows)], size="sm", className="small", id="health-slowest"))
        if probe.get("error"):
            body.insert(0, dbc.Alert(probe["error"], color=COLOURS.get(status, "secondary"), className="small py-2",
                                     id=f"health-error-{name}"))
        if probe.get("workers"):
            head = html.Thead(html.Tr([html.Th(h) for h in ("worker", "active", "reserved", "scheduled",
                                                                "concurrency", "uptime")]))
            rows = [html.Tr([html.Td(w["name"]), html.Td(w["active"]), html.Td(w["reserved"]), html.Td(w["scheduled"]),
                             html.Td(w["concurrency"]), html.Td(uptime(w.get("uptime_seconds")),
                                                                title=_seconds_title(w.get("uptime_seconds")))])
                    for w in probe["workers"]]
            body.append(dbc.Table([head, html.Tbody(rows)], size="sm", className="small", id="health-workers"))
        cards.append(dbc.Col(dbc.Card([
            dbc.CardHeader([html.Strong(label), dbc.Badge(_value(status), color=COLOURS.get(status, "secondary"),
                                                          className="ms-2", id=f"health-status-{name}")]),
            dbc.CardBody(body),
        ], className="shadow-sm h-100"), xs=12, lg=6, xxl=3))
    return cards
