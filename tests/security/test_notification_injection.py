"""Alert notifications carry data as text. In Slack, ``&``, ``<`` and ``>`` from data are
escaped (no ``<!channel>`` mention, no ``<url|label>`` link); in e-mail, CR and LF from data never
reach a header (no injected Bcc)."""

from __future__ import annotations

from datetime import timedelta

from dashapp.alerts import evaluation as alerts
from dashapp.config import load_settings
from queries.clock import utc_now
from tests.alerts.test_notifications import hooks, mailbox  # noqa: F401 - the fixtures
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs

SLACK_CRM = "<!channel> <https://evil.example|Re-auth>"
MAIL_CRM = "x\r\nBcc: evil@evil.example"


def test_slack_and_mail_carry_data_as_text(pg_engine, hooks, mailbox, tmp_path):  # noqa: F811
    empty_app_tables(pg_engine)
    settings = load_settings({
        "ALERT_SLACK_WEBHOOK_URLS": f"{hooks.url}/slack", "ALERT_SMTP_HOST": "127.0.0.1",
        "ALERT_SMTP_PORT": str(mailbox.port), "ALERT_EMAIL_TO": "ops@example.com",
        "ALERT_EMAIL_FROM": "monitor@example.com", "SQLITE_PATH": str(tmp_path / "x.sqlite3")})
    now = utc_now()
    minute = timedelta(minutes=1)
    insert_runs(pg_engine, [Run(crm, "contacts", "failed", (i + 1) * 5 * minute, (i + 1) * 5 * minute - minute,
                                error="HTTPError: 502") for crm in (SLACK_CRM, MAIL_CRM) for i in range(10)], now)
    result = alerts.evaluate(pg_engine, settings, now)
    assert result.notifications.failed == 0 and result.notifications.sent == 8
    texts = [body["text"] for path, body in hooks.received if path == "/slack"]
    assert len(texts) == 4
    for text in texts:
        assert "<!channel>" not in text and "<https://evil.example" not in text
    assert any("&lt;!channel&gt; &lt;https://evil.example|Re-auth&gt;" in text for text in texts)
    assert len(mailbox.messages) == 4
    for message in mailbox.messages:
        assert message.rcpt_tos == ["ops@example.com"]
        headers = message.content.decode().split("\r\n\r\n", 1)[0]
        assert "\nBcc:" not in headers and "evil@evil.example" not in headers.split("Subject:")[0]
        subject = next(line for line in headers.split("\r\n") if line.startswith("Subject:"))
        assert "[Sync Monitor]" in subject
