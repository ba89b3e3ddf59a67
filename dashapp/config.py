"""Every setting of Sync Monitor, read from environment variables only.

Each setting has its default here and a row in the README's configuration table.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ConfigError(ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    sync_schema: str
    app_schema: str
    sqlite_path: Path
    redis_url: str | None
    celery_broker_url: str | None
    refresh_seconds: int
    host: str
    port: int
    display_timezone: str | None
    data_timezone: str
    demo_interval_seconds: float
    celery_queues: tuple[str, ...]
    health_refresh_seconds: int
    health_cache_seconds: float
    health_timeout_seconds: float
    retry_task: str = "sync_monitor.retry_sync"
    retry_queue: str | None = None
    retry_max_attempts: int = 3
    retry_bulk_limit: int = 1000
    retry_stale_minutes: int = 60
    retry_handlers: tuple[str, ...] = ()
    auth_users_file: Path | None = None
    auth_proxy_header: str | None = None
    secret_key: str | None = None
    session_cookie_secure: bool = False
    sign_in_max_failures: int = 5
    sign_in_window_seconds: int = 900
    alert_rules_file: Path | None = None
    alert_interval_seconds: int = 60
    alert_webhook_urls: tuple[str, ...] = ()
    alert_slack_webhook_urls: tuple[str, ...] = ()
    alert_email_to: tuple[str, ...] = ()
    alert_email_from: str = "sync-monitor@localhost"
    alert_smtp_host: str | None = None
    alert_smtp_port: int = 25
    alert_smtp_user: str | None = None
    alert_smtp_password: str | None = None
    alert_smtp_starttls: bool = False
    public_url: str | None = None
    demo_stopped_crms: tuple[str, ...] = ()
    behind_proxy: bool = False
    cache_seconds: float = 10.0
    statement_timeout_seconds: float = 10.0
    status_aliases: tuple[tuple[str, str], ...] = (("completed", "success"), ("in_progress", "running"))
    beat_schema: str | None = None
    max_request_bytes: int = 2 * 1024 * 1024
    monitor_database_url: str | None = None
    rollup_refresh_seconds: int = 60

    @property
    def retry_queue_name(self) -> str:
        return self.retry_queue or self.celery_queues[0]

    @property
    def auth_configured(self) -> bool:
        """True when users can sign in (a users file or a trusted proxy header); without either
        the app is read-only for everyone."""
        return self.auth_users_file is not None or self.auth_proxy_header is not None

    @property
    def embedded(self) -> bool:
        """True when no DATABASE_URL is set: the app runs on its own SQLite demo file."""
        return not self.database_url


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value


def _float(env: dict[str, str], name: str, default: float, low: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < low:
        raise ConfigError(f"{name}={value} is below {low}")
    return value


def _zone(env: dict[str, str], name: str, default: str | None) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}={raw!r} is not an IANA time zone such as Europe/Berlin") from None
    return raw


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not true or false")


def _names(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    schema = env.get("SYNC_SCHEMA", "").strip() or "orchestration"
    if not _IDENTIFIER.match(schema):
        raise ConfigError(f"SYNC_SCHEMA={schema!r} is not a plain SQL identifier")
    app_schema = env.get("APP_SCHEMA", "").strip() or "sync_monitor"
    if not _IDENTIFIER.match(app_schema) or app_schema == schema:
        raise ConfigError(f"APP_SCHEMA={app_schema!r} must be a plain SQL identifier other than SYNC_SCHEMA")
    redis_url = env.get("REDIS_URL", "").strip() or None
    sqlite_path = Path(env.get("SQLITE_PATH", "").strip() or PROJECT_ROOT / "data" / "demo.sqlite3")
    return Settings(
        database_url=env.get("DATABASE_URL", "").strip() or None,
        sync_schema=schema,
        app_schema=app_schema,
        sqlite_path=sqlite_path.resolve(),
        redis_url=redis_url,
        celery_broker_url=env.get("CELERY_BROKER_URL", "").strip() or redis_url,
        refresh_seconds=_int(env, "REFRESH_SECONDS", 30, 2, 86400),
        host=env.get("HOST", "").strip() or "127.0.0.1",
        port=_int(env, "PORT", 8050, 1, 65535),
        display_timezone=_zone(env, "DISPLAY_TIMEZONE", None),
        data_timezone=_zone(env, "SYNC_TIMEZONE", "UTC") or "UTC",
        demo_interval_seconds=_float(env, "DEMO_INTERVAL_SECONDS", 5.0, 0.2),
        celery_queues=_names(env.get("CELERY_QUEUES")) or ("celery",),
        health_refresh_seconds=_int(env, "HEALTH_REFRESH_SECONDS", 10, 2, 3600),
        health_cache_seconds=_float(env, "HEALTH_CACHE_SECONDS", 5.0, 0.0),
        health_timeout_seconds=_float(env, "HEALTH_TIMEOUT_SECONDS", 1.5, 0.1),
        retry_task=env.get("RETRY_TASK", "").strip() or "sync_monitor.retry_sync",
        retry_queue=env.get("RETRY_QUEUE", "").strip() or None,
        retry_max_attempts=_int(env, "RETRY_MAX_ATTEMPTS", 3, 1, 100),
        retry_bulk_limit=_int(env, "RETRY_BULK_LIMIT", 1000, 1, 100_000),
        retry_stale_minutes=_int(env, "RETRY_STALE_MINUTES", 60, 1, 7 * 24 * 60),
        retry_handlers=_names(env.get("RETRY_HANDLERS")),
        auth_users_file=Path(users).resolve() if (users := env.get("AUTH_USERS_FILE", "").strip()) else None,
        auth_proxy_header=_header(env, "AUTH_PROXY_HEADER"),
        secret_key=env.get("SECRET_KEY", "").strip() or None,
        session_cookie_secure=_bool(env, "SESSION_COOKIE_SECURE", False),
        sign_in_max_failures=_int(env, "SIGN_IN_MAX_FAILURES", 5, 1, 1000),
        sign_in_window_seconds=_int(env, "SIGN_IN_WINDOW_SECONDS", 900, 1, 86400),
        alert_rules_file=Path(rules).resolve() if (rules := env.get("ALERT_RULES_FILE", "").strip()) else None,
        alert_interval_seconds=_int(env, "ALERT_INTERVAL_SECONDS", 60, 5, 86400),
        alert_webhook_urls=_urls(env, "ALERT_WEBHOOK_URLS"),
        alert_slack_webhook_urls=_urls(env, "ALERT_SLACK_WEBHOOK_URLS"),
        alert_email_to=_names(env.get("ALERT_EMAIL_TO")),
        alert_email_from=env.get("ALERT_EMAIL_FROM", "").strip() or "sync-monitor@localhost",
        alert_smtp_host=env.get("ALERT_SMTP_HOST", "").strip() or None,
        alert_smtp_port=_int(env, "ALERT_SMTP_PORT", 25, 1, 65535),
        alert_smtp_user=env.get("ALERT_SMTP_USER", "").strip() or None,
        alert_smtp_password=env.get("ALERT_SMTP_PASSWORD") or None,
        alert_smtp_starttls=_bool(env, "ALERT_SMTP_STARTTLS", False),
        public_url=(env.get("PUBLIC_URL", "").strip().rstrip("/") or None),
        demo_stopped_crms=_names(env.get("DEMO_STOPPED_CRMS")),
        behind_proxy=_bool(env, "BEHIND_PROXY", False),
        cache_seconds=_float(env, "CACHE_SECONDS", _int(env, "REFRESH_SECONDS", 30, 2, 86400) / 3, 0.0),
        statement_timeout_seconds=_float(env, "DB_STATEMENT_TIMEOUT_SECONDS", 10.0, 0.0),
        status_aliases=_aliases(env, "STATUS_ALIASES", "completed=success,in_progress=running"),
        beat_schema=_identifier(env, "BEAT_SCHEMA"),
        max_request_bytes=_int(env, "MAX_REQUEST_BYTES", 2 * 1024 * 1024, 64 * 1024, 64 * 1024 * 1024),
        monitor_database_url=env.get("MONITOR_DATABASE_URL", "").strip() or None,
        rollup_refresh_seconds=_int(env, "ROLLUP_REFRESH_SECONDS", 60, 0, 86400),
    )


STATUS_CLASSES = ("running", "success", "failed", "partial")
_STATUS_VALUE = re.compile(r"^[A-Za-z0-9_. -]{1,20}$")


def _aliases(env: dict[str, str], name: str, default: str) -> tuple[tuple[str, str], ...]:
    """``raw=class`` pairs, comma-separated: raw status values counted as one of the four classes."""
    raw = env.get(name)
    pairs = []
    for part in _names(default if raw is None else raw):
        value, _, target = (piece.strip() for piece in part.partition("="))
        if not _STATUS_VALUE.match(value) or target not in STATUS_CLASSES:
            raise ConfigError(f"{name}: {part[:60]!r} is not raw=class with class one of {', '.join(STATUS_CLASSES)}")
        if value in STATUS_CLASSES:
            raise ConfigError(f"{name}: {value!r} is already a class and cannot be an alias")
        pairs.append((value, target))
    return tuple(pairs)


def _identifier(env: dict[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if raw and not _IDENTIFIER.match(raw):
        raise ConfigError(f"{name}={raw!r} is not a plain SQL identifier")
    return raw or None


def _urls(env: dict[str, str], name: str) -> tuple[str, ...]:
    urls = _names(env.get(name))
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{name}: {url[:60]!r} is not an http(s) URL")
    return urls


_HEADER = re.compile(r"^[A-Za-z0-9-]{1,100}$")


def _header(env: dict[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not _HEADER.match(raw):
        raise ConfigError(f"{name}={raw!r} is not an HTTP header name such as X-Forwarded-User")
    return raw
