"""Alert evaluation: run every rule, then turn what they find into alert state, de-duplicated.

- a finding with no firing alert of its rule and subject fires one (notified: ``firing``);
- a finding with one updates it (last seen, summary, value); a higher severity escalates it
  (notified: ``escalated``);
- a firing alert its rule no longer finds is resolved (by ``auto``; notified: ``resolved``),
  unless the rule failed to run this time (its alerts are left as they are).

One evaluation at a time: a PostgreSQL advisory lock (a second evaluation skips), SQLite's write
lock. Notifications are queued in the same transaction and sent after it (``alert_notify``).
Run by Celery beat (``sync_monitor.evaluate_alerts``, every ALERT_INTERVAL_SECONDS), by
``python app.py alerts check`` for cron, or in the app's process for the embedded demo.
Scheduled runs (``on_schedule``) are once per interval however many schedulers send them (two
workers each with ``--beat``, two demo processes): each claims the interval in ``periodic_runs``
first, and one that comes less than the interval (less ``SLACK_SECONDS``) after the last skips.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashapp.alerts import config as alert_config
from dashapp.alerts import notify as alert_notify
from dashapp.alerts import rules as alert_rules
from dashapp.config import Settings
from dashapp.errors import error_line
from dashapp.storage import periodic
from queries import alert_state
from queries._sql import app_db
from queries.clock import utc_now

log = logging.getLogger(__name__)
LOCK_ID = 7_200_417  # the advisory lock key of the evaluation
RANK = {"warning": 1, "critical": 2}
# How late a scheduled evaluation may claim its interval and the next still run on time: a beat's
# task reaches a worker later than it was sent (a cold worker's first took over a second).
SLACK_SECONDS = 2.0


@dataclass
class Evaluation:
    fired: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    firing: int = 0
    rule_errors: dict[str, str] = field(default_factory=dict)
    skipped: bool = False  # another evaluation held the lock, or ran in this interval
    skip_reason: str = "another evaluation is running"
    notifications: alert_notify.Delivery | None = None

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.skip_reason}"
        parts = [f"{self.firing} firing", f"{len(self.fired)} fired", f"{len(self.escalated)} escalated",
                 f"{len(self.resolved)} resolved"]
        if self.notifications is not None:
            parts.append(self.notifications.summary())
        parts += [f"rule {name} failed: {why}" for name, why in self.rule_errors.items()]
        return "; ".join(parts)


def findings(engine: Engine, settings: Settings, config: alert_config.AlertConfig, now: datetime
             ) -> tuple[list[alert_rules.Finding], dict[str, str]]:
    """Every enabled rule's findings, and the rules that could not run (name -> why)."""
    context = alert_rules.Context(engine, settings, config, now)
    found: list[alert_rules.Finding] = []
    errors: dict[str, str] = {}
    for name, rule in alert_rules.RULES.items():
        covered = alert_rules.COVERS.get(name, (name,))
        if not any(config.enabled(r) for r in covered):
            continue
        try:
            found += [f for f in rule(context) if config.enabled(f.rule)]
        except (SQLAlchemyError, OSError, ValueError, KeyError, TypeError) as exc:
            why = error_line(exc) if isinstance(exc, SQLAlchemyError) else f"{type(exc).__name__}: {exc}"
            log.warning("alert rule %s could not run: %s", name, why)
            for covered_rule in covered:
                errors[covered_rule] = why
    return found, errors


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def evaluate(engine: Engine, settings: Settings, now: datetime | None = None, deliver: bool = True) -> Evaluation:
    now = now or utc_now()
    config = alert_config.load(settings.alert_rules_file)
    found, errors = findings(engine, settings, config, now)
    outcome = Evaluation(rule_errors=errors)
    stamp = _naive(now)
    channels = alert_notify.channels(settings)
    with app_db(engine).begin() as conn:
        if not alert_state.lock_evaluation(conn, LOCK_ID):
            outcome.skipped = True
            return outcome
        current = {(row.rule, row.subject): row for row in alert_state.firing(conn)}
        events: list[tuple[int, str]] = []
        unique = {(f.rule, f.subject): f for f in found}
        for f in unique.values():
            row = current.pop((f.rule, f.subject), None)
            if row is None:
                new_id = alert_state.fire(conn, f.rule, f.subject, f.severity, f.summary, f.value, stamp)
                events.append((new_id, "firing"))
                outcome.fired.append(f"{f.rule}:{f.subject}")
                continue
            alert_state.refresh(conn, row.id, f.severity, f.summary, f.value, stamp)
            if RANK.get(f.severity, 0) > RANK.get(row.severity, 0):
                events.append((row.id, "escalated"))
                outcome.escalated.append(f"{f.rule}:{f.subject}")
        for (rule, subject), row in current.items():
            if rule in errors:
                continue  # the rule did not run: what it found before still stands
            alert_state.auto_resolve(conn, row.id, stamp)
            events.append((row.id, "resolved"))
            outcome.resolved.append(f"{rule}:{subject}")
        alert_notify.queue(conn, events, channels, stamp)
        outcome.firing = len(unique)
    if deliver:
        outcome.notifications = alert_notify.deliver_due(engine, settings, now)
    return outcome


def on_schedule(engine: Engine, settings: Settings) -> Evaluation:
    """A scheduled evaluation: ``evaluate`` when this interval is not claimed yet, else skipped
    (another scheduler's evaluation of this interval ran, or runs, already)."""
    every = settings.alert_interval_seconds
    slack = min(every / 2, max(every * periodic.SLACK, SLACK_SECONDS))
    if not periodic.claim(engine, periodic.ALERTS, every, slack):
        why = f"this interval was evaluated already (ALERT_INTERVAL_SECONDS={every})"
        return Evaluation(skipped=True, skip_reason=why)
    return evaluate(engine, settings)


def start_loop(engine: Engine, settings: Settings) -> threading.Thread:
    """Evaluate every ALERT_INTERVAL_SECONDS in a daemon thread: the embedded demo's evaluator
    when no Celery beat runs (the caller holds the demo's single-process lock)."""
    def loop() -> None:
        while True:
            try:
                log.info("alerts: %s", on_schedule(engine, settings).summary())
            except SQLAlchemyError as exc:
                log.warning("alert evaluation failed: %s", error_line(exc))
            time.sleep(settings.alert_interval_seconds)

    thread = threading.Thread(target=loop, name="alert-evaluator", daemon=True)
    thread.start()
    return thread
