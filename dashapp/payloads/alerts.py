"""Alerts as ``/api/alerts`` serves them and ``/alerts`` renders them. A notification's send error
is an operator's (``details``: its URLs cut to scheme and host); anyone else reads its class
("the webhook answered 500", ``dashapp.auth.failure_classes``).

As of a past moment (``at``): the alerts fired by then, each firing or resolved as it was then
(resolved by then; acknowledged only when acknowledged by then); their severity, summary, value and
notifications are as they are now (``ASSUMED``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from dashapp import display
from dashapp.alerts.config import DEFAULTS, SEVERITIES
from dashapp.auth.failure_classes import notification_error
from dashapp.errors import BadParameter
from dashapp.payloads import params
from dashapp.payloads.params import values
from dashapp.payloads.result_cache import shared
from queries import alerts as queries
from queries._sql import app_tables_exist

NOT_MIGRATED_NOTE = ("alerts are off: the app's own tables do not exist yet; run `python app.py db upgrade` "
                     "to keep alerts, acknowledge and resolve them, and send notifications")
DEFAULT_RANGE = "7d"  # the history's window when the query string names none
ASSUMED = ("an alert's severity, summary, value and notifications are as they are now: the app keeps only "
           "their latest; its firing, acknowledgement and resolution are as they were then")


@shared("alert_bell_acknowledged")
def firing_counts(engine: Engine, at: datetime | None = None) -> dict[str, dict[str, int]]:
    """Firing alerts per severity, not yet acknowledged and acknowledged, for the bell every page
    shows (shared between viewers); none before ``db upgrade``; ``at``: those firing then."""
    if not app_tables_exist(engine, "alerts"):
        return {"unacknowledged": {}, "acknowledged": {}}
    return queries.firing_by_acknowledgement(engine, at)


def alert_filter(args: Mapping[str, list[str]], now: datetime) -> dict:
    """state, severity, rule (repeated or comma-separated) and the window of ``fired_at`` (``range``
    24h, 7d default, 30d, 90d, all; or ``start``/``end``; the deprecated ``age``: ``params.window``),
    and ``at``: the moment the alerts are shown as of (None: now), named windows ending then."""
    at = params.at(args, now)
    chosen = {}
    for name, allowed in (("state", queries.ALERT_STATES), ("severity", SEVERITIES), ("rule", tuple(DEFAULTS))):
        picked = tuple(v for v in values(args, name) if v != "any")
        for value in picked:
            if value not in allowed:
                raise BadParameter(name, f"{value[:40]!r} is not one of {', '.join(allowed)}")
        chosen[name] = picked
    window = params.window(args, at or now, DEFAULT_RANGE)
    return {"states": chosen["state"], "severities": chosen["severity"], "rules": chosen["rule"],
            "since": window.start, "until": window.end, "at": at}


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def alert_record(row: dict, details: bool = False) -> dict:
    return {
        "id": int(row["id"]), "rule": row["rule"], "subject": row["subject"], "severity": row["severity"],
        "summary": row["summary"], "value": _number(row["value"]), "state": row["state"],
        "fired_at": display.iso_utc(row["fired_at"]), "last_seen_at": display.iso_utc(row["last_seen_at"]),
        "resolved_at": display.iso_utc(row["resolved_at"]), "resolved_by": display.text(row["resolved_by"]),
        "resolve_note": display.text(row["resolve_note"]), "acknowledged_by": display.text(row["acknowledged_by"]),
        "acknowledged_at": display.iso_utc(row["acknowledged_at"]),
        "notifications": {"sent": int(row["sent"]), "pending": int(row["pending"]), "failed": int(row["gave_up"]),
                          "error": notification_error(display.text(row.get("send_error_channel")),
                                                      display.text(row["send_error"]), details)},
    }


def alerts_json(engine: Engine, f: dict, limit: int = 500, details: bool = False) -> dict:
    """The alerts matching ``f``; ``details`` (an operator asks): send errors as stored, URLs cut."""
    at = f.get("at")
    when = {"at": display.iso_utc(at), "assumed": ASSUMED} if at is not None else {}
    if not app_tables_exist(engine, "alerts"):
        return {"alerts": [], "firing": {}, "note": NOT_MIGRATED_NOTE, **when}
    frame = queries.alert_list(engine, f["states"], f["severities"], f["rules"], f["since"], limit,
                               f["until"], at=at)
    return {"alerts": [alert_record(row, details) for row in frame.to_dict("records")],
            "firing": queries.firing_count(engine, at), **when}
