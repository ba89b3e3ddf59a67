"""Alert notifications: one row per alert event (firing, escalated, resolved) and channel, sent
after the evaluation that made it and retried with back-off until sent or given up.

Channels (environment): ALERT_WEBHOOK_URLS (generic JSON), ALERT_SLACK_WEBHOOK_URLS (Slack's
incoming-webhook format) and e-mail over SMTP (ALERT_SMTP_HOST, ALERT_EMAIL_TO, ...).

A webhook's URL is its credential: a failed send's error is stored and logged with every URL in it
cut to scheme and host (``dashapp.auth.redact``), and shown that way to operators only; anyone else
reads its class ("the webhook answered 500", ``dashapp.auth.failure_classes``).
"""

from __future__ import annotations

import logging
import re
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import requests
from sqlalchemy import Connection, Engine

from dashapp import display
from dashapp.auth.redact import redact_urls, without_secrets_of
from dashapp.config import Settings
from queries import alert_notifications
from queries.clock import utc_now

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
FIRST_BACKOFF = timedelta(seconds=30)  # then 1, 2, 4 minutes
TIMEOUT_SECONDS = 5
ICONS = {"firing": ":red_circle:", "escalated": ":rotating_light:", "resolved": ":large_green_circle:"}


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0  # this time; they are tried again later
    gave_up: int = 0

    def summary(self) -> str:
        return f"notifications: {self.sent} sent, {self.failed} failed" + (
            f", {self.gave_up} given up" if self.gave_up else "")


def channels(settings: Settings) -> list[tuple[str, str]]:
    """(channel, target) for every configured destination."""
    found = [("webhook", url) for url in settings.alert_webhook_urls]
    found += [("slack", url) for url in settings.alert_slack_webhook_urls]
    if settings.alert_smtp_host and settings.alert_email_to:
        found.append(("email", ", ".join(settings.alert_email_to)))
    return found


def queue(conn: Connection, events: list[tuple[int, str]], destinations: list[tuple[str, str]], now: datetime) -> None:
    rows = [{"alert_id": alert_id, "event": event, "channel": channel, "target": target[:300], "status": "pending",
             "attempts": 0, "created_at": now, "next_try_at": now}
            for alert_id, event in events for channel, target in destinations]
    alert_notifications.add(conn, rows)


def alerts_link(settings: Settings) -> str | None:
    """The alerts page's address for a notification (``Settings.public_base``: PUBLIC_URL, with
    URL_PREFIX when PUBLIC_URL has no path), None without PUBLIC_URL."""
    return f"{settings.public_base}/alerts" if settings.public_base else None


def message(alert: dict[str, Any], event: str, settings: Settings) -> dict[str, Any]:
    """The generic webhook body."""
    link = alerts_link(settings)
    return {
        "event": event,
        "alert": {
            "id": alert["id"], "rule": alert["rule"], "subject": alert["subject"], "severity": alert["severity"],
            "state": alert["state"], "summary": alert["summary"], "value": alert["value"],
            "fired_at": display.iso_utc(alert["fired_at"]), "resolved_at": display.iso_utc(alert["resolved_at"]),
            "resolved_by": alert["resolved_by"], "resolve_note": alert["resolve_note"],
        },
        "link": link,
        "sent_at": display.iso_utc(utc_now()),
    }


def headline(alert: dict[str, Any], event: str) -> str:
    """``FIRING critical late hubspot: HubSpot: no successful sync for 2 h (schedule every 1 h)``."""
    return f"{event.upper()} {alert['severity']} {alert['rule']} {alert['subject']}: {alert['summary']}"


def slack_escape(text: object) -> str:
    """Text from data for a Slack message: ``&``, ``<`` and ``>`` escaped as Slack asks, so a CRM
    named ``<!channel>`` or ``<https://evil.example|Re-authenticate>`` is shown as written, never
    as a mention or a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: object) -> str:
    """Text from data for a mail header: control characters (CR and LF above all) become spaces."""
    return _CONTROL.sub(" ", str(text))


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def slack_message(alert: dict[str, Any], event: str, settings: Settings) -> dict[str, Any]:
    text = f"{ICONS.get(event, '')} *Sync Monitor* {slack_escape(headline(alert, event))}"
    if alert.get("resolve_note"):
        text += f"\nNote: {slack_escape(alert['resolve_note'])}"
    if link := alerts_link(settings):
        text += f"\n<{link}|Open the alerts page>"
    return {"text": text}


def _post(url: str, body: dict[str, Any]) -> None:
    answer = requests.post(url, json=body, timeout=TIMEOUT_SECONDS)
    if answer.status_code >= 300:
        raise OSError(without_secrets_of(f"HTTP {answer.status_code} from {url}: {answer.text[:200]}", url))


def _email(settings: Settings, alert: dict[str, Any], event: str) -> None:
    mail = EmailMessage()
    mail["Subject"] = one_line(f"[Sync Monitor] {headline(alert, event)}")[:250]
    mail["From"] = settings.alert_email_from
    mail["To"] = ", ".join(settings.alert_email_to)
    lines = [headline(alert, event), "", f"Fired at: {display.iso_utc(alert['fired_at'])}"]
    if alert["resolved_at"] is not None:
        lines.append(f"Resolved at: {display.iso_utc(alert['resolved_at'])} by {alert['resolved_by']}")
    if alert.get("resolve_note"):
        lines.append(f"Note: {alert['resolve_note']}")
    if link := alerts_link(settings):
        lines.append(f"Alerts: {link}")
    mail.set_content("\n".join(lines) + "\n")
    with smtplib.SMTP(settings.alert_smtp_host or "localhost", settings.alert_smtp_port,
                      timeout=TIMEOUT_SECONDS) as smtp:
        if settings.alert_smtp_starttls:
            smtp.starttls()
        if settings.alert_smtp_user:
            smtp.login(settings.alert_smtp_user, settings.alert_smtp_password or "")
        smtp.send_message(mail)


def send(settings: Settings, channel: str, target: str, alert: dict[str, Any], event: str) -> None:
    if channel == "webhook":
        _post(target, message(alert, event, settings))
    elif channel == "slack":
        _post(target, slack_message(alert, event, settings))
    elif channel == "email":
        _email(settings, alert, event)
    else:
        raise ValueError(f"unknown channel {channel!r}")


def deliver_due(engine: Engine, settings: Settings, now: datetime | None = None) -> Delivery:
    """Send every pending notification whose time has come; a failure waits and is tried again
    (30 s, 1, 2, 4 minutes), and is given up after MAX_ATTEMPTS with its last error kept."""
    now = (now or utc_now()).replace(tzinfo=None)
    delivery = Delivery()
    due, by_id = alert_notifications.due(engine, now)
    for row in due:
        alert = by_id.get(row["alert_id"])
        attempts = row["attempts"] + 1
        try:
            if alert is None:
                raise LookupError(f"alert {row['alert_id']} no longer exists")
            send(settings, row["channel"], row["target"], alert, row["event"])
            values: dict[str, Any] = {"status": "sent", "sent_at": now, "last_error": None}
            delivery.sent += 1
        except (OSError, requests.RequestException, smtplib.SMTPException, LookupError, ValueError) as exc:
            # requests' errors name the URL, and a server may echo its path: a webhook's credential
            url = row["target"] if row["channel"] in ("webhook", "slack") else ""
            error = (without_secrets_of(f"{type(exc).__name__}: {exc}", url) or "")[:2000]
            log.warning("alert notification %s (%s to %s) failed: %s", row["id"], row["channel"],
                        redact_urls(row["target"]), error)
            gave_up = attempts >= MAX_ATTEMPTS
            values = {"status": "failed" if gave_up else "pending", "last_error": error,
                      "next_try_at": None if gave_up else now + FIRST_BACKOFF * 2 ** (attempts - 1)}
            delivery.failed += 1
            delivery.gave_up += int(gave_up)
        alert_notifications.record_attempt(engine, row["id"], attempts, values)
    return delivery
