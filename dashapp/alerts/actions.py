"""What operators do with an alert: acknowledge it (someone is on it) or resolve it with a note.
Checked with ``auth.refusal`` and audited, like retries; a manual resolve is notified like an
automatic one. A rule that still finds the problem fires a new alert at its next evaluation."""

from __future__ import annotations

from sqlalchemy import Engine

from dashapp.alerts import notify as alert_notify
from dashapp.auth import audit
from dashapp.auth import users as auth
from dashapp.config import Settings
from dashapp.retries.action import ActionOutcome
from queries import alert_state
from queries._sql import app_db
from queries.clock import utc_now


def act(settings: Settings, engine: Engine, user: auth.User | None, alert_id: int, action: str, note: str = "",
        source: str = "page") -> ActionOutcome:
    """``action``: ``acknowledge`` or ``resolve``."""
    target = f"alert {alert_id}"
    refused = auth.refusal(settings, user, f"{action} alerts")
    if refused is not None:
        audit.record(engine, user, f"alert_{action}", "denied", target=target, detail=refused.message, source=source)
        return ActionOutcome(refused.status, refused.message)
    assert user is not None
    note = note.strip()[:2000]
    now = utc_now().replace(tzinfo=None)
    with app_db(engine).begin() as conn:
        if action == "acknowledge":
            changed = alert_state.acknowledge(conn, alert_id, user.name, now)
        else:
            changed = alert_state.resolve(conn, alert_id, user.name, note or None, now)
            if changed:
                alert_notify.queue(conn, [(alert_id, "resolved")], alert_notify.channels(settings), now)
    if not changed:
        message = f"alert {alert_id} is not firing" + (" or is already acknowledged" if action == "acknowledge" else "")
        audit.record(engine, user, f"alert_{action}", "none", target=target, detail=message, source=source)
        return ActionOutcome(409, message)
    audit.record(engine, user, f"alert_{action}", "ok", target=target, operations=1, detail=note, source=source)
    if action == "resolve":
        alert_notify.deliver_due(engine, settings)
    return ActionOutcome(200, f"alert {alert_id} {'acknowledged' if action == 'acknowledge' else 'resolved'}")
