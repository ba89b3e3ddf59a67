"""The morning digest: at DIGEST_AT (a local time in DISPLAY_TIMEZONE, else UTC) the summary of the
24 hours before it goes out through the alert channels (``notify.channels``: webhooks, Slack,
e-mail), once a day however many instances run.

The digest sent on day D+1 at DIGEST_AT covers "day D": the 24 hours ending at D+1 DIGEST_AT
(``day_window``; without DIGEST_AT a day ends at midnight). Every tick (beat's
``sync_monitor.send_digest`` each minute, or the demo's loop) asks ``due``; the first process to
claim the day inserts its ``digests`` row (a conditional insert: one of any number of callers wins)
and sends. A channel that fails is recorded, and the next tick the same day claims the day again
(one winner again) and resends only the channels that did not get it, up to MAX_ATTEMPTS rounds.

The summary itself is ``dashapp.payloads.digest.digest`` (the /api/digest answer and the timeline
page's card): the payloads layer stands above this one, so the callers (the worker, the app's
start-up) hand it in as ``summarize``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashapp import display
from dashapp.alerts import notify
from dashapp.auth.redact import redact_urls, without_secrets_of
from dashapp.config import Settings
from dashapp.errors import error_line
from queries import digest as digest_rows
from queries.clock import utc_now

log = logging.getLogger(__name__)
DAY = timedelta(hours=24)
MAX_ATTEMPTS = 5  # rounds of sending one day's digest (the first and four retries, a tick apart)
STALE = timedelta(minutes=10)  # a claim this old still "sending": its process died; another may take it
RETRY_AFTER = timedelta(seconds=30)  # a failed round is tried again by a later tick, not by one of the same
TICK_SECONDS = 60
Summarize = Callable[[Engine, datetime], dict[str, Any]]


def zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.display_timezone or "UTC")


def send_clock(settings: Settings) -> time:
    """DIGEST_AT as a time of day (midnight without it)."""
    hours, minutes = (settings.digest_at or "00:00").split(":")
    return time(int(hours), int(minutes))


def day_window(day: date, settings: Settings) -> tuple[datetime, datetime]:
    """[start, end) in UTC of local ``day``: the 24 hours ending on the next day at DIGEST_AT (or
    midnight) in DISPLAY_TIMEZONE. A clock time a DST change skips is read with the offset before
    the change (02:30 on a spring-forward night is 03:30 summer time), a repeated one as its first."""
    end = datetime.combine(day + timedelta(days=1), send_clock(settings), tzinfo=zone(settings)).astimezone(UTC)
    return end - DAY, end


def due(now: datetime, settings: Settings, last_sent_day: str | None) -> str | None:
    """The day (``YYYY-MM-DD``) whose digest is due at ``now``, or None: with DIGEST_AT set, once
    today's DIGEST_AT (local) has passed, yesterday's digest is due until it has been sent. A day
    missed entirely (no process ran from one DIGEST_AT to the next) is not sent late."""
    if not settings.digest_at:
        return None
    local = now.astimezone(zone(settings))
    today_at = datetime.combine(local.date(), send_clock(settings), tzinfo=zone(settings))
    if now < today_at:
        return None
    day = (local.date() - timedelta(days=1)).isoformat()
    return None if last_sent_day is not None and last_sent_day >= day else day


def timeline_link(start: datetime | None, end: datetime | None) -> str:
    """The timeline of the window, as an app path (``/timeline?start=..&end=..``)."""
    return "/timeline?" + urlencode({"start": display.iso_utc(start), "end": display.iso_utc(end)})


def public_link(settings: Settings, path: str) -> str | None:
    """An app path as a link in a message, under PUBLIC_URL; None without PUBLIC_URL."""
    return f"{settings.public_base}{path}" if settings.public_base else None


# ---- the three messages ----

def _headline(summary: dict[str, Any]) -> str:
    day = summary.get("day") or summary["end"]
    return (f"Digest for {day}: {display.plural(summary['runs'], 'run')}, "
            f"{summary['failure_rate']:.2f}% failed, {summary['partial_rate']:.2f}% partial")


def _change(points: float | None) -> str:
    if points is None:
        return "no runs the week before to compare"
    if points == 0:
        return "same as the week before"
    return f"{'up' if points > 0 else 'down'} {abs(points):.2f} points on the week before"


def _lines(summary: dict[str, Any], escape: Callable[[object], str]) -> list[str]:
    """The digest as lines of text, every value from data passed through ``escape``."""
    week = summary["week_before"]
    lines = [
        f"Runs: {summary['runs']:,} ({summary['completed']:,} completed, {summary['failed']:,} failed, "
        f"{summary['partial']:,} partial; {week['runs_per_day']:,} a day the week before)",
        f"Failure rate: {summary['failure_rate']:.2f}% ({_change(summary['change']['failure_rate'])}: "
        f"{week['failure_rate']:.2f}%)",
        f"Partial rate: {summary['partial_rate']:.2f}% ({_change(summary['change']['partial_rate'])}: "
        f"{week['partial_rate']:.2f}%)",
    ]
    worst = summary["worst_crm"]
    lines.append("Worst CRM: " + (f"{escape(worst['name'])} ({worst['failed']:,} failed, {worst['partial']:,} "
                                  f"partial of {worst['runs']:,} runs)" if worst else "none (no failed runs)"))
    lines.append(f"Incidents: {summary['incidents_total']:,}")
    for incident in summary["incidents"]:
        ended = ("still open" if incident["still_open"]
                 else f"resolved {incident['resolved']}")
        lost = "" if incident["runs_lost"] is None else f", {display.plural(incident['runs_lost'], 'run')} lost"
        lines.append(f"- {escape(incident['name'])} {escape(incident['sync_type'])}: from {incident['started']}, "
                     f"{ended}, {incident['length']}{lost}")
    if summary["incidents_total"] > len(summary["incidents"]):
        lines.append(f"- and {summary['incidents_total'] - len(summary['incidents']):,} more")
    if summary["late"] is None:
        lines.append(f"Late syncs: {summary['late_note']}")
    else:
        lines.append(f"Late syncs now: {summary['late_total']:,}")
        for late in summary["late"]:
            lines.append(f"- {escape(late['name'])} {escape(late['sync_type'])}: {escape(late['state_reason'])}")
    return lines


def _safe_line(text: object) -> str:
    """Text from data on one line of a message (a CRM named with a newline stays on its line)."""
    return notify.one_line(text)


def slack_message(summary: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Slack's body: every value from data escaped (``&``, ``<``, ``>`` as Slack asks) and kept on its
    line (control characters become spaces), and Slack's formatting marks in it (``*``, ``_``, ``~``,
    backquote; Slack has no escape for them) shown as look-alikes (∗ ＿ ∼ ‵), so a CRM named
    ``<!channel>`` or ``*urgent*`` is never a mention, a link or bold; Slack's markup only around it."""
    def escape(value: object) -> str:
        return notify.slack_escape(_safe_line(value)).replace("*", "\u2217").replace("_", "\uff3f") \
            .replace("~", "\u223c").replace("`", "\u2035")

    text = f":sunrise: *Sync Monitor* {notify.slack_escape(_headline(summary))}\n" + "\n".join(_lines(summary, escape))
    if link := public_link(settings, summary["timeline_link"]):
        text += f"\n<{link}|Open the timeline of the day>"
    return {"text": text}


def webhook_message(summary: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The generic webhook's body: the summary as /api/digest answers it and a link to the day's timeline."""
    return {"event": "digest", "day": summary.get("day"), "digest": summary,
            "link": public_link(settings, summary["timeline_link"]), "sent_at": display.iso_utc(utc_now())}


def email_message(summary: dict[str, Any], settings: Settings) -> EmailMessage:
    """Plain text; the subject on one line."""
    mail = EmailMessage()
    mail["Subject"] = notify.one_line(f"[Sync Monitor] {_headline(summary)}")[:250]
    mail["From"] = settings.alert_email_from
    mail["To"] = ", ".join(settings.alert_email_to)
    lines = [_headline(summary), "", *_lines(summary, _safe_line)]
    if link := public_link(settings, summary["timeline_link"]):
        lines += ["", f"Timeline: {link}"]
    mail.set_content("\n".join(lines) + "\n")
    return mail


def _email(settings: Settings, mail: EmailMessage) -> None:
    with smtplib.SMTP(settings.alert_smtp_host or "localhost", settings.alert_smtp_port,
                      timeout=notify.TIMEOUT_SECONDS) as smtp:
        if settings.alert_smtp_starttls:
            smtp.starttls()
        if settings.alert_smtp_user:
            smtp.login(settings.alert_smtp_user, settings.alert_smtp_password or "")
        smtp.send_message(mail)


def send_one(settings: Settings, channel: str, target: str, summary: dict[str, Any]) -> None:
    if channel == "webhook":
        notify._post(target, webhook_message(summary, settings))
    elif channel == "slack":
        notify._post(target, slack_message(summary, settings))
    elif channel == "email":
        _email(settings, email_message(summary, settings))
    else:
        raise ValueError(f"unknown channel {channel!r}")


# ---- once a day ----

def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def send_digest(engine: Engine, settings: Settings, now: datetime | None = None, *,
                summarize: Summarize) -> str:
    """Send the digest due at ``now`` (``due``) through every channel, when this process wins the
    day's claim; a channel that fails is recorded and retried on a later tick the same day, the
    channels it reached are not sent it again. Returns what happened, in a line."""
    now = now or utc_now()
    if not settings.digest_at:
        return "skipped: DIGEST_AT is not set"
    destinations = notify.channels(settings)
    if not destinations:
        return "skipped: no alert channel is configured"
    if not digest_rows.tables_exist(engine):
        return "skipped: the digests table does not exist yet: run `python app.py db upgrade`"
    day = due(now, settings, digest_rows.last_sent_day(engine))
    if day is None:
        return "skipped: no digest is due"
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    if not digest_rows.claim(engine, day, stamp, _me(), stamp - STALE, MAX_ATTEMPTS, stamp - RETRY_AFTER):
        return f"skipped: the digest of {day} is sent (or being sent) by another process, or was given up"
    try:
        start, end = day_window(date.fromisoformat(day), settings)
        summary = {**summarize(engine, end), "day": day}
    except (SQLAlchemyError, OSError, ValueError) as exc:
        why = error_line(exc) if isinstance(exc, SQLAlchemyError) else f"{type(exc).__name__}: {exc}"
        digest_rows.finish(engine, day, f"the summary could not be made: {why}"[:2000], stamp)
        return f"failed: the summary of {day} could not be made: {why}"
    done = digest_rows.delivered(engine, day)
    sent, failed = 0, []
    for channel, target in destinations:
        if (channel, target[:300]) in done:
            continue
        try:
            send_one(settings, channel, target, summary)
            digest_rows.record_delivery(engine, day, channel, target, None, stamp)
            sent += 1
        except (OSError, requests.RequestException, smtplib.SMTPException, ValueError) as exc:
            url = target if channel in ("webhook", "slack") else ""
            error = (without_secrets_of(f"{type(exc).__name__}: {exc}", url) or "")[:2000]
            log.warning("digest of %s (%s to %s) failed: %s", day, channel, redact_urls(target), error)
            digest_rows.record_delivery(engine, day, channel, target, error, stamp)
            failed.append(f"{channel}: {error}")
    digest_rows.finish(engine, day, "; ".join(failed)[:2000] or None, stamp)
    return f"digest of {day}: {sent} sent, {len(failed)} failed" + (", tried again next tick" if failed else "")


def start_loop(engine: Engine, settings: Settings, summarize: Summarize) -> threading.Thread | None:
    """Check every minute in a daemon thread whether the digest is due: the embedded demo's sender
    when no Celery beat runs (beside ``evaluation.start_loop``). None without DIGEST_AT."""
    if not settings.digest_at:
        return None

    def loop() -> None:
        while True:
            try:
                outcome = send_digest(engine, settings, summarize=summarize)
                if not outcome.startswith("skipped"):
                    log.info("digest: %s", outcome)
            except SQLAlchemyError as exc:
                log.warning("digest failed: %s", error_line(exc))
            clock.sleep(TICK_SECONDS)

    thread = threading.Thread(target=loop, name="digest-sender", daemon=True)
    thread.start()
    return thread
