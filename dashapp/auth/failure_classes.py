"""A failure of the app's own infrastructure in a few words that name nothing of the server: what
anonymous users and viewers read where an operator reads the error itself
(``dashapp.auth.disclosure`` picks one per request).

- A notification that could not be sent (``alert_notifications.last_error``, stored as
  ``"<exception type>: <message>"``): "the webhook answered 500", "the webhook could not be
  reached", "the Slack webhook did not answer in time", "the mail server refused", ...
- A retry the broker did not take (``failed_operations.last_error`` starting ``not queued:``,
  ``dashapp.retries.claiming``): "not queued: the broker could not be reached", ... Any other
  ``last_error`` is the retried sync's own error (data, shown to everyone as it is).

Both work on texts stored before this module existed: they read the words, not a code."""

from __future__ import annotations

import re

from dashapp.auth.redact import redact_urls

NOT_QUEUED = "not queued: "  # how claiming.py starts a broker's refusal it stores
_STATUS = re.compile(r"\bHTTP (\d{3}) from\b|\b(\d{3}) (?:Client|Server) Error\b")
_SLOW = re.compile(r"ReadTimeout|read timed out|did not answer", re.IGNORECASE)
_UNREACHABLE = re.compile(
    r"ConnectionError|ConnectTimeout|Timeout|timed out|Connection ?(?:refused|reset|aborted)|Errno|Error \d+ connecting"
    r"|NewConnectionError|Name or service not known|Failed to resolve|getaddrinfo|No route to host|unreachable"
    r"|SSLError|ProxyError|gaierror|SMTPConnectError|SMTPServerDisconnected|OperationalError|socket", re.IGNORECASE)
_BAD_ADDRESS = re.compile(r"InvalidURL|MissingSchema|InvalidSchema|No connection adapters", re.IGNORECASE)
_MAIL_REFUSED = re.compile(r"SMTP(?:Authentication|Sender|Recipients|Data|Helo|NotSupported|Response)\w*Error"
                           r"|SMTPRecipientsRefused|SMTPSenderRefused", re.IGNORECASE)
_BROKER_REFUSED = re.compile(r"ACCESS_REFUSED|AuthenticationError|NOAUTH|WRONGPASS|invalid (?:username|password)"
                             r"|Login was refused|not authorized|NOPERM", re.IGNORECASE)
_NO_BROKER = "no Celery broker is configured"


def _kind(text: str) -> str:
    """The exception's type name a stored error starts with (``ConnectionError: ...``)."""
    head = text.split(":", 1)[0].strip()
    return head if re.fullmatch(r"[A-Za-z_][\w.]*", head) else ""


def notification_class(channel: str | None, text: str | None) -> str | None:
    """A notification's failure in words for anyone: which kind of destination, and what went
    wrong (its HTTP status, unreachable, too slow, refused), never its address or the reply."""
    if not text:
        return None
    kind = _kind(text)
    if kind == "LookupError" or "no longer exists" in text:
        return "the alert no longer exists"
    if channel == "email":
        if _MAIL_REFUSED.search(kind) or _MAIL_REFUSED.search(text):
            return "the mail server refused"
        if _UNREACHABLE.search(text) or kind in ("OSError", "TimeoutError", "ConnectionRefusedError"):
            return "the mail server could not be reached"
        return "the mail could not be sent"
    what = {"webhook": "the webhook", "slack": "the Slack webhook"}.get(channel or "", "the notification's destination")
    status = _STATUS.search(text)
    if status:
        return f"{what} answered {status.group(1) or status.group(2)}"
    if _BAD_ADDRESS.search(text):
        return f"{what}'s address is not valid"
    if _SLOW.search(text):
        return f"{what} did not answer in time"
    if _UNREACHABLE.search(text):
        return f"{what} could not be reached"
    return f"{what} failed"


def is_broker_refusal(text: str | None) -> bool:
    """True for a ``last_error`` the app wrote about its broker (a retry it could not queue)."""
    return bool(text) and text.startswith(NOT_QUEUED)  # type: ignore[union-attr]


CLASSED_CHARACTERS = 100  # the words read: a grid's row holds this many, so every view agrees


def broker_class(text: str) -> str:
    """A broker's refusal in words for anyone: ``not queued: the broker could not be reached``."""
    text = text[:CLASSED_CHARACTERS]
    if _NO_BROKER in text:
        return NOT_QUEUED + "no broker is configured"
    if _BROKER_REFUSED.search(text):
        return NOT_QUEUED + "the broker refused the connection"
    if _UNREACHABLE.search(text):
        return NOT_QUEUED + "the broker could not be reached"
    return NOT_QUEUED + "the broker did not take the task"


def notification_error(channel: str | None, text: str | None, details: bool) -> str | None:
    """A notification's stored error as shown: for an operator (``details``) the error with its
    URLs cut to scheme and host (rows stored before the cut was made at storing included), for
    anyone else its class."""
    if not text:
        return None
    return redact_urls(text) if details else notification_class(channel, text)


def retry_error(text: str | None, details: bool) -> str | None:
    """A failed operation's ``last_error`` as shown: a broker's refusal is infrastructure (its
    class for anyone but an operator); a retried sync's own error is shown as it is."""
    if text is None or details or not is_broker_refusal(text):
        return text
    return broker_class(text)
