"""The morning digest's sending: ``due`` around DIGEST_AT in a zone away from UTC, on the nights
the clocks change; a real local HTTP receiver (webhook and Slack bodies, hostile CRM names escaped)
and a local SMTP server; a failed channel retried the next tick without sending the others again;
concurrent senders (real threads on real PostgreSQL) sending one digest per channel; a bad DIGEST_AT
stopping the app with one line."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from dashapp.alerts import digest
from dashapp.config import ConfigError, load_settings
from dashapp.payloads.digest import digest as summarize
from queries import digest as digest_rows
from queries.clock import utc_now
from tests.conftest import closed_port, empty_app_tables
from tests.support.rows import Run, insert_runs

ROOT = Path(__file__).resolve().parents[2]
H = timedelta(hours=1)
M = timedelta(minutes=1)
RECEIVER_PORT = 8741  # lane E's ports: 8700-8799
HOSTILE = "<!channel> & *boss*\n<https://evil.example|click>"
NEW_YORK = ZoneInfo("America/New_York")


class Receiver:
    """A local HTTP server on RECEIVER_PORT keeping every POST body; paths in ``failing`` answer 500."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []
        self.failing: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path in receiver.failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.received.append((self.path, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", RECEIVER_PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{RECEIVER_PORT}"

    def bodies(self, path: str) -> list[dict]:
        return [body for where, body in self.received if where == path]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, _server, _session, envelope):  # noqa: N802 - aiosmtpd's API
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def mailbox():
    box = Mailbox()
    box.port = closed_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def settings_for(tmp_path, receiver=None, mailbox=None, **env):
    values = {"DIGEST_AT": "00:00", "DISPLAY_TIMEZONE": "Europe/Berlin", "PUBLIC_URL": "https://monitor.example.com",
              "SQLITE_PATH": str(tmp_path / "x.sqlite3"), **env}
    if receiver is not None:
        values |= {"ALERT_WEBHOOK_URLS": f"{receiver.url}/generic", "ALERT_SLACK_WEBHOOK_URLS": f"{receiver.url}/slack"}
    if mailbox is not None:
        values |= {"ALERT_SMTP_HOST": "127.0.0.1", "ALERT_SMTP_PORT": str(mailbox.port),
                   "ALERT_EMAIL_TO": "ops@example.com", "ALERT_EMAIL_FROM": "monitor@example.com"}
    return load_settings(values)


def yesterday_window(now: datetime, zone: str = "Europe/Berlin") -> tuple[str, datetime, datetime]:
    """Yesterday (local) and its window with DIGEST_AT=00:00, worked out here with zoneinfo."""
    local = now.astimezone(ZoneInfo(zone))
    end = datetime(local.year, local.month, local.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return (local.date() - timedelta(days=1)).isoformat(), end - timedelta(hours=24), end


def write_day(engine, now: datetime, end: datetime) -> list[Run]:
    """Runs inside the window ending at ``end``: the hostile CRM fails three times, hubspot succeeds twice."""
    ago = now - end
    runs = [Run(HOSTILE, "deals", "failed", ago + (2 + i) * H, ago + (2 + i) * H - M) for i in range(3)]
    runs += [Run("hubspot", "contacts", "success", ago + (6 + i) * H, ago + (6 + i) * H - M) for i in range(2)]
    return insert_runs(engine, runs, now)


# ---- when ----

def test_due_around_digest_at_in_new_york():
    settings = load_settings({"DIGEST_AT": "08:00", "DISPLAY_TIMEZONE": "America/New_York"})
    at = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)  # 08:00 EST
    assert digest.due(at - timedelta(seconds=1), settings, None) is None
    assert digest.due(at, settings, None) == "2026-12-03"
    assert digest.due(at + 10 * H, settings, "2026-12-02") == "2026-12-03"  # late, still the same day
    assert digest.due(at + 10 * H, settings, "2026-12-03") is None  # sent
    assert digest.due(at + 11 * H, settings, None) == "2026-12-03"  # 00:00 the next day local is 05:00 UTC
    assert digest.due(at + 16 * H, settings, "2026-12-03") is None  # 04:00 local: before the next one
    assert digest.due(at, load_settings({"DISPLAY_TIMEZONE": "America/New_York"}), None) is None  # DIGEST_AT unset
    assert digest.day_window(date(2026, 12, 3), settings) == (at - timedelta(hours=24), at)


def test_due_on_the_nights_the_clocks_change():
    """2026-03-08 02:30 does not exist in New York (02:00 EST -> 03:00 EDT): read as 03:30 EDT, 07:30 UTC.
    2026-11-01 01:30 happens twice (EDT, then EST): the first, 05:30 UTC. Each window is 24 hours."""
    spring = load_settings({"DIGEST_AT": "02:30", "DISPLAY_TIMEZONE": "America/New_York"})
    sends = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert digest.due(sends - timedelta(seconds=1), spring, "2026-03-06") is None
    assert digest.due(sends, spring, "2026-03-06") == "2026-03-07"
    start, end = digest.day_window(date(2026, 3, 7), spring)
    assert end == sends and end - start == timedelta(hours=24)
    assert start.astimezone(NEW_YORK).strftime("%H:%M %Z") == "02:30 EST"

    autumn = load_settings({"DIGEST_AT": "01:30", "DISPLAY_TIMEZONE": "America/New_York"})
    sends = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert digest.due(sends - timedelta(seconds=1), autumn, None) is None
    assert digest.due(sends, autumn, None) == "2026-10-31"
    assert digest.due(sends + H, autumn, "2026-10-31") is None  # 01:30 again (EST): sent already
    start, end = digest.day_window(date(2026, 10, 31), autumn)
    assert end == sends and end - start == timedelta(hours=24)
    # the day after each change: the local clock again, 24 hours before it
    assert digest.day_window(date(2026, 3, 8), spring)[1] == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)
    assert digest.day_window(date(2026, 11, 1), autumn)[1] == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize("value", ["25:00", "08:60", "8", "8am", "08:00:00", "0800"])
def test_a_bad_digest_at_is_refused(value):
    with pytest.raises(ConfigError) as refused:
        load_settings({"DIGEST_AT": value})
    assert str(refused.value).startswith(f"DIGEST_AT={value!r} is not a time of day")


def test_a_bad_digest_at_stops_the_app_with_one_line(tmp_path):
    env = {**os.environ, "DIGEST_AT": "7am", "SQLITE_PATH": str(tmp_path / "x.sqlite3")}
    done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == ("sync-monitor: cannot start: DIGEST_AT='7am' is not a time of day such as 08:00 "
                                   "(HH:MM, 24-hour clock)")


# ---- what and where ----

def test_webhook_slack_and_email_receive_the_digest_once(pg_engine, receiver, mailbox, tmp_path):
    empty_app_tables(pg_engine)
    settings = settings_for(tmp_path, receiver, mailbox)
    now = utc_now()
    day, start, end = yesterday_window(now)
    write_day(pg_engine, now, end)
    assert digest.send_digest(pg_engine, settings, now, summarize=summarize) == f"digest of {day}: 3 sent, 0 failed"

    [body] = receiver.bodies("/generic")
    assert body["event"] == "digest" and body["day"] == day
    sent = body["digest"]
    assert (sent["start"], sent["end"]) == (start.isoformat().replace("+00:00", "Z"),
                                            end.isoformat().replace("+00:00", "Z"))
    assert (sent["runs"], sent["completed"], sent["failed"], sent["partial"]) == (5, 2, 3, 0)
    assert sent["failure_rate"] == round(3 * 100 / 5, 2)
    assert sent["worst_crm"]["crm_source"] == HOSTILE and sent["worst_crm"]["failed"] == 3
    link = urlsplit(body["link"])
    assert (link.scheme, link.netloc, link.path) == ("https", "monitor.example.com", "/timeline")
    assert parse_qs(link.query) == {"start": [sent["start"]], "end": [sent["end"]]}

    [slack] = receiver.bodies("/slack")
    text = slack["text"]
    assert "<!channel>" not in text and "<https://evil" not in text and "*boss*" not in text
    escaped = "&lt;!channel&gt; &amp; \u2217boss\u2217 &lt;https://evil.example|click&gt;"
    assert f"Worst CRM: {escaped} (3 failed, 0 partial of 3 runs)" in text.splitlines()
    assert text.splitlines()[-1] == f"<{body['link']}|Open the timeline of the day>"

    [mail] = mailbox.messages
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    content = message.get_content()
    assert mail.rcpt_tos == ["ops@example.com"]
    assert message["Subject"].strip() == f"[Sync Monitor] Digest for {day}: 5 runs, 60.00% failed, 0.00% partial"
    assert "Runs: 5 (2 completed, 3 failed, 0 partial; 0.0 a day the week before)" in content.splitlines()
    assert content.splitlines()[-1] == f"Timeline: {body['link']}"
    worst = [line for line in content.splitlines() if line.startswith("Worst CRM:")]
    assert worst == [f"Worst CRM: {HOSTILE.replace(chr(10), ' ')} (3 failed, 0 partial of 3 runs)"]

    again = digest.send_digest(pg_engine, settings, now + M, summarize=summarize)
    assert again == "skipped: no digest is due"
    assert len(receiver.received) == 2 and len(mailbox.messages) == 1


def test_a_failed_channel_is_sent_again_next_tick_and_only_it(pg_engine, receiver, tmp_path):
    empty_app_tables(pg_engine)
    settings = settings_for(tmp_path, receiver)
    now = utc_now()
    day, _, end = yesterday_window(now)
    write_day(pg_engine, now, end)
    receiver.failing.add("/slack")
    first = digest.send_digest(pg_engine, settings, now, summarize=summarize)
    assert first == f"digest of {day}: 1 sent, 1 failed, tried again next tick"
    row, deliveries = digest_rows.day_rows(pg_engine, day)
    assert row["status"] == "failed" and "HTTP 500" in row["error"]
    assert {(d["channel"], d["status"]) for d in deliveries} == {("webhook", "sent"), ("slack", "failed")}

    receiver.failing.clear()
    second = digest.send_digest(pg_engine, settings, now + M, summarize=summarize)
    assert second == f"digest of {day}: 1 sent, 0 failed"
    assert len(receiver.bodies("/generic")) == 1 and len(receiver.bodies("/slack")) == 1
    row, deliveries = digest_rows.day_rows(pg_engine, day)
    assert row["status"] == "sent" and row["attempts"] == 2 and row["error"] is None
    assert {(d["channel"], d["status"], d["attempts"]) for d in deliveries} == {("webhook", "sent", 1),
                                                                              ("slack", "sent", 2)}
    assert digest.send_digest(pg_engine, settings, now + 2 * M, summarize=summarize) == "skipped: no digest is due"


def test_a_channel_that_keeps_failing_is_given_up_after_the_last_round(pg_engine, receiver, tmp_path):
    empty_app_tables(pg_engine)
    settings = settings_for(tmp_path, receiver)
    now = utc_now()
    day, _, end = yesterday_window(now)
    receiver.failing.add("/slack")
    outcomes = [digest.send_digest(pg_engine, settings, now + i * M, summarize=summarize)
                for i in range(digest.MAX_ATTEMPTS + 1)]
    assert all(o.endswith("1 failed, tried again next tick") for o in outcomes[:digest.MAX_ATTEMPTS])
    assert outcomes[-1].startswith("skipped:") and "given up" in outcomes[-1]
    assert len(receiver.bodies("/generic")) == 1  # the webhook got it in the first round, once


def test_concurrent_senders_send_one_digest_per_channel(pg_engine, receiver, tmp_path):
    """Eight threads tick at once, twice: the first time the Slack hook fails; each round one thread
    wins the day, and in the end each channel has exactly one digest."""
    empty_app_tables(pg_engine)
    settings = settings_for(tmp_path, receiver)
    now = utc_now()
    day, _, end = yesterday_window(now)
    write_day(pg_engine, now, end)
    receiver.failing.add("/slack")

    def round_of(threads: int, at: datetime) -> list[str]:
        barrier, outcomes = threading.Barrier(threads), []

        def tick() -> None:
            barrier.wait()
            outcomes.append(digest.send_digest(pg_engine, settings, at, summarize=summarize))

        workers = [threading.Thread(target=tick) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        return outcomes

    first = round_of(8, now)
    assert sum(o.startswith(f"digest of {day}") for o in first) == 1 and len(first) == 8
    assert len(receiver.bodies("/generic")) == 1 and receiver.bodies("/slack") == []
    receiver.failing.clear()
    second = round_of(8, now + M)
    assert sum(o.startswith(f"digest of {day}") for o in second) == 1
    assert len(receiver.bodies("/generic")) == 1 and len(receiver.bodies("/slack")) == 1


def test_sqlite_claims_the_day_too(migrated_sqlite_db, receiver, tmp_path):
    settings = settings_for(tmp_path, receiver)
    now = utc_now()
    day, _, end = yesterday_window(now)
    write_day(migrated_sqlite_db, now, end)
    assert digest.send_digest(migrated_sqlite_db, settings, now, summarize=summarize) == \
        f"digest of {day}: 2 sent, 0 failed"
    assert digest_rows.claim(migrated_sqlite_db, day, now.replace(tzinfo=None), "other", now.replace(tzinfo=None), 5) \
        is False
    assert receiver.bodies("/generic")[0]["digest"]["failed"] == 3


def test_nothing_is_sent_without_digest_at_channels_or_tables(sqlite_db, receiver, tmp_path):
    now = utc_now()
    assert digest.send_digest(sqlite_db, settings_for(tmp_path, receiver, DIGEST_AT=""), now,
                              summarize=summarize) == "skipped: DIGEST_AT is not set"
    assert digest.send_digest(sqlite_db, settings_for(tmp_path), now, summarize=summarize) == \
        "skipped: no alert channel is configured"
    assert "db upgrade" in digest.send_digest(sqlite_db, settings_for(tmp_path, receiver), now, summarize=summarize)
    assert receiver.received == []


def test_the_beat_task_sends_through_the_payloads_summary(pg_engine, receiver, tmp_path, monkeypatch):
    """``sync_monitor.send_digest`` as beat runs it (the task's body, in this process): the worker hands
    the payloads' summary to the sender; a second tick sends nothing."""
    from dashapp import worker
    from dashapp.recording import recorder

    empty_app_tables(pg_engine)
    now = utc_now()
    day, _, end = yesterday_window(now)
    write_day(pg_engine, now, end)
    monkeypatch.setattr(worker, "settings", settings_for(tmp_path, receiver))
    saved = recorder._default_engine
    recorder.set_default_engine(pg_engine)
    try:
        assert worker.send_digest.run() == f"digest of {day}: 2 sent, 0 failed"
        assert worker.send_digest.run() == "skipped: no digest is due"
    finally:
        recorder.set_default_engine(saved)
    assert receiver.bodies("/generic")[0]["digest"]["runs"] == 5
    assert "sync_monitor.send_digest" in worker.app.tasks


def test_the_digest_send_command_sends_once_for_cron(pg_engine, postgres_url, receiver, tmp_path):
    """``python app.py digest send`` (cron, where no beat runs): the due digest through the webhook and
    its line on stdout, status 0; again: nothing due; a channel that fails: status 1 naming it."""
    empty_app_tables(pg_engine)
    now = utc_now()
    day, _, end = yesterday_window(now)
    write_day(pg_engine, now, end)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALERT_", "DIGEST_", "SQLITE_"))}
    env |= {"DATABASE_URL": postgres_url, "DIGEST_AT": "00:00", "DISPLAY_TIMEZONE": "Europe/Berlin",
            "ALERT_WEBHOOK_URLS": f"{receiver.url}/generic"}

    def send(**more: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "app.py", "digest", "send"], cwd=ROOT, env={**env, **more},
                              capture_output=True, text=True, timeout=120)

    receiver.failing.add("/failing")
    failed = send(ALERT_WEBHOOK_URLS=f"{receiver.url}/failing")
    assert failed.returncode == 1, failed.stderr
    assert failed.stdout.startswith(f"digest of {day}: 0 sent, 1 failed"), failed.stdout
    empty_app_tables(pg_engine)  # a failed round is tried again only RETRY_AFTER later: the day afresh
    first = send()
    assert (first.returncode, first.stdout.strip()) == (0, f"digest of {day}: 1 sent, 0 failed"), first.stderr
    [body] = receiver.bodies("/generic")
    assert (body["day"], body["digest"]["runs"], body["digest"]["failed"]) == (day, 5, 3)
    again = send()
    assert (again.returncode, again.stdout.strip()) == (0, "skipped: no digest is due")
    assert len(receiver.bodies("/generic")) == 1
