"""Every setting of Sync Monitor, read from environment variables only.

Each setting is defined once, in VARIABLES: the Settings field it fills, its type and bounds (the
reader), its default and its help; the README's configuration table is checked against it and
``load_settings`` reads every variable through it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ConfigError(ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


Reader = Callable[[dict[str, str], str], Any]
"""How one variable's text (``env``, its name) becomes its value: its type and bounds. Raises
ConfigError naming the variable."""


@dataclass(frozen=True)
class Variable:
    """One environment variable, defined once: the Settings field it fills, how it is read (its type
    and bounds), its default as the environment would spell it (None: unset), what it does, and
    ``shown``: the default as the docs say it, where the value alone would not."""

    field: str
    read: Reader
    default: str | None
    help: str
    shown: str | None = None


@dataclass(frozen=True)
class Whole:
    """A whole number from ``low`` to ``high``; None when unset without a default."""

    low: int
    high: int

    def __call__(self, env: dict[str, str], name: str) -> int | None:
        return None if _text(env, name) is None else _int(env, name, self.low, self.high)


@dataclass(frozen=True)
class Number:
    """A number of at least ``low``; None when unset without a default."""

    low: float

    def __call__(self, env: dict[str, str], name: str) -> float | None:
        return _float(env, name, self.low)


def _text(env: dict[str, str], name: str) -> str | None:
    """The variable's value, stripped, or its default (None when it has none)."""
    return env.get(name, "").strip() or VARIABLES[name].default


def _int(env: dict[str, str], name: str, low: int, high: int) -> int:
    raw = _text(env, name) or ""
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value


def _float(env: dict[str, str], name: str, low: float, default: float | None = None) -> float:
    raw = env.get(name, "").strip() or VARIABLES[name].default
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < low:
        raise ConfigError(f"{name}={value} is below {low}")
    return value


def _zone(env: dict[str, str], name: str) -> str | None:
    raw = _text(env, name)
    if not raw:
        return None
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}={raw!r} is not an IANA time zone such as Europe/Berlin") from None
    return raw


def _bool(env: dict[str, str], name: str) -> bool:
    raw = (_text(env, name) or "").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not true or false")


def _names(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())


LOG_LEVELS = ("debug", "info", "warning", "error")


def log_level(env: dict[str, str] | None = None) -> str:
    """LOG_LEVEL, checked (``app.py`` sets up logging with it before the other settings are read)."""
    return _level(dict(os.environ if env is None else env), "LOG_LEVEL")


def _level(env: dict[str, str], name: str) -> str:
    level = (_text(env, name) or "").lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f"{name}={level!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


# Unreserved URL characters only: a prefix also goes into the cookie path, HTML and JavaScript as it is.
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")


def _prefix(env: dict[str, str], name: str) -> str:
    """URL_PREFIX with one leading and one trailing slash (``ingestion/monitoring`` is
    ``/ingestion/monitoring/``); raises ConfigError naming the problem with a bad value."""
    raw = _text(env, name) or "/"
    problem = _prefix_problem(raw)
    if problem:
        raise ConfigError(f"{name}={raw[:80]!r} {problem}; use a plain path such as /ingestion/monitoring/")
    segments = raw.strip("/").split("/") if raw.strip("/") else []
    return "/" + "".join(segment + "/" for segment in segments)


def _prefix_problem(raw: str) -> str | None:
    if "://" in raw:
        return "is a URL, not a path"
    for text, what in (("?", "a query (?)"), ("#", "a fragment (#)"), ("//", "an empty segment (//)"),
                       ("%", "a %-escape"), ("\\", "a backslash")):
        if text in raw:
            return f"holds {what}"
    if any(ch.isspace() for ch in raw):
        return "holds a space"
    segments = raw.strip("/").split("/") if raw.strip("/") else []
    if any(segment in (".", "..") for segment in segments):
        return "holds a . or .. segment"
    bad = next((segment for segment in segments if not _PREFIX_SEGMENT.match(segment)), None)
    if bad is not None:
        return f"holds a character other than letters, digits and - _ . ~ (in {bad[:40]!r})"
    return None


STATUS_CLASSES = ("running", "success", "failed", "partial")
_STATUS_VALUE = re.compile(r"^[A-Za-z0-9_. -]{1,20}$")


def _aliases(env: dict[str, str], name: str) -> tuple[tuple[str, str], ...]:
    """``raw=class`` pairs, comma-separated: raw status values counted as one of the four classes."""
    raw = env.get(name)
    pairs = []
    for part in _names(VARIABLES[name].default if raw is None else raw):
        value, _, target = (piece.strip() for piece in part.partition("="))
        if not _STATUS_VALUE.match(value) or target not in STATUS_CLASSES:
            raise ConfigError(f"{name}: {part[:60]!r} is not raw=class with class one of {', '.join(STATUS_CLASSES)}")
        if value in STATUS_CLASSES:
            raise ConfigError(f"{name}: {value!r} is already a class and cannot be an alias")
        pairs.append((value, target))
    return tuple(pairs)


def _identifier(env: dict[str, str], name: str) -> str | None:
    raw = _text(env, name)
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


@dataclass(frozen=True)
class TrustedProxies:
    """The peers whose proxy headers count: ``any_peer`` for ``*``, else these networks."""

    any_peer: bool
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def __contains__(self, address: str) -> bool:
        """Whether ``address`` (an IP address as text) is one of them; False for anything else."""
        if self.any_peer:
            return True
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 on a dual-stack socket is 127.0.0.1
        return any(ip in network for network in self.networks)


@lru_cache(maxsize=16)
def trusted_proxies(raw: str) -> TrustedProxies:
    """Parse ``FORWARDED_ALLOW_IPS`` as gunicorn does: comma-separated addresses and CIDR networks
    (host bits must be zero), ``*`` for any peer. Raises ValueError naming a bad entry."""
    entries = _names(raw)
    networks = []
    for entry in entries:
        if entry == "*":
            continue
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network such as 10.0.0.0/8") from None
    return TrustedProxies("*" in entries, tuple(networks))


def _proxies(env: dict[str, str], name: str) -> str:
    raw = _text(env, name) or ""
    try:
        trusted_proxies(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r}: {exc}") from None
    return raw


def _header(env: dict[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not _HEADER.match(raw):
        raise ConfigError(f"{name}={raw!r} is not an HTTP header name such as X-Forwarded-User")
    return raw


def _app_schema(env: dict[str, str], name: str) -> str:
    schema = _text(env, name) or ""
    if not _IDENTIFIER.match(schema) or schema == _text(env, "SYNC_SCHEMA"):
        raise ConfigError(f"{name}={schema!r} must be a plain SQL identifier other than SYNC_SCHEMA")
    return schema


def _broker(env: dict[str, str], name: str) -> str | None:
    """CELERY_BROKER_URL, or REDIS_URL when it is unset."""
    return _text(env, name) or _text(env, "REDIS_URL")


def _cache_seconds(env: dict[str, str], name: str) -> float:
    """CACHE_SECONDS, or a third of REFRESH_SECONDS when it is unset."""
    return _float(env, name, 0.0, default=_int(env, "REFRESH_SECONDS", 2, 86400) / 3)


def _file(env: dict[str, str], name: str) -> Path | None:
    """A path, absolute (a relative default is the project's, a relative value the working directory's)."""
    raw = env.get(name, "").strip()
    if raw:
        return Path(raw).resolve()
    default = VARIABLES[name].default
    return (PROJECT_ROOT / default).resolve() if default else None


def _name_list(env: dict[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated names; the default's when the value holds none."""
    return _names(_text(env, name)) or _names(VARIABLES[name].default)


def _secret(env: dict[str, str], name: str) -> str | None:
    return env.get(name) or None  # not stripped: spaces may be part of it


_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def _clock(env: dict[str, str], name: str) -> str | None:
    """A local time of day, ``HH:MM`` on the 24-hour clock (``8:00`` is read as ``08:00``); None when empty."""
    raw = _text(env, name)
    if not raw:
        return None
    padded = raw.zfill(5) if len(raw) == 4 else raw
    if not _CLOCK.match(padded):
        raise ConfigError(f"{name}={raw[:40]!r} is not a time of day such as 08:00 (HH:MM, 24-hour clock)")
    return padded


def _address(env: dict[str, str], name: str) -> str | None:
    return (_text(env, name) or "").rstrip("/") or None


# The readers the table uses, by the type they read.
TEXT: Reader = _text
IDENTIFIER: Reader = _identifier
ZONE: Reader = _zone
FLAG: Reader = _bool
FILE: Reader = _file
NAMES: Reader = _name_list
URLS: Reader = _urls
HEADER: Reader = _header
SECRET: Reader = _secret
ADDRESS: Reader = _address
PREFIX: Reader = _prefix
LEVEL: Reader = _level
ALIASES: Reader = _aliases
PROXIES: Reader = _proxies
CLOCK: Reader = _clock


# Every setting once: its field, type and bounds, default and help. The README's configuration table
# is checked against this (tests/test_layout.py); load_settings reads every variable through it.
VARIABLES: dict[str, Variable] = {
    "DATABASE_URL": Variable(
        "database_url", TEXT,
        None,
        'the warehouse, e.g. `postgresql://user:pw@host:5432/db` (psycopg2)',
        shown='unset: the embedded SQLite demo',
    ),
    "SYNC_SCHEMA": Variable(
        "sync_schema", IDENTIFIER,
        'orchestration', 'the schema holding `sync_history` and `sync_schedule`'),
    "APP_SCHEMA": Variable(
        "app_schema", _app_schema,
        'sync_monitor', "the schema of the app's own tables (API calls, breaker transitions)"),
    "SYNC_TIMEZONE": Variable(
        "sync_timezone", ZONE,
        'UTC', "the zone the user's `TIMESTAMP` columns hold"),
    "SQLITE_PATH": Variable(
        "sqlite_path", FILE,
        'data/demo.sqlite3', "the embedded demo's file"),
    "DEMO_INTERVAL_SECONDS": Variable(
        "demo_interval_seconds", Number(0.2),
        '5',
        "how often the embedded demo checks which sync is due by its schedule (at most 5 s; with a broker, in "
        "Celery beat's process)",
    ),
    "REDIS_URL": Variable(
        "redis_url", TEXT,
        None,
        'Redis: probed on /health, and holds the shared health cache, sign-in limits and session generations',
    ),
    "CELERY_BROKER_URL": Variable(
        "celery_broker_url", _broker,
        None, 'the Celery broker (Redis or RabbitMQ)', shown='`REDIS_URL`'),
    "CELERY_QUEUES": Variable(
        "celery_queues", NAMES,
        'celery',
        "the queues whose depth counts as pending tasks, comma-separated; the first is the project's tasks' "
        'queue',
    ),
    "CELERY_QUEUE_WARN": Variable(
        "celery_queue_warn", Whole(1, 10_000_000),
        '10',
        'waiting tasks (all probed queues together) above which the Celery card turns amber, saying how many '
        'wait',
    ),
    "CELERY_QUEUE_CRITICAL": Variable(
        "celery_queue_critical", Whole(1, 10_000_000),
        '50', 'waiting tasks above which the Celery card turns red'),
    "HEALTH_REFRESH_SECONDS": Variable(
        "health_refresh_seconds", Whole(2, 3600),
        '10', 'how often the health strip and /health refresh'),
    "HEALTH_CACHE_SECONDS": Variable(
        "health_cache_seconds", Number(0.0),
        '5',
        'how long a health snapshot is fresh; up to 12 times that it is still shown while a new one is probed'
        ' (0: probe on every request)',
    ),
    "HEALTH_TIMEOUT_SECONDS": Variable(
        "health_timeout_seconds", Number(0.1),
        '1.5', "the probes' deadline"),
    "REFRESH_SECONDS": Variable(
        "refresh_seconds", Whole(2, 86400),
        '30', 'how often pages refresh themselves (2..86400)'),
    "HOST": Variable(
        "host", TEXT,
        '127.0.0.1', 'the address `python app.py` listens on'),
    "PORT": Variable(
        "port", Whole(1, 65535),
        '8050', 'the port `python app.py` listens on'),
    "DISPLAY_TIMEZONE": Variable(
        "display_timezone", ZONE,
        None,
        'an IANA zone to show times in, e.g. `Europe/Berlin`',
        shown="the viewer's browser zone",
    ),
    "RETRY_TASK": Variable(
        "retry_task", TEXT,
        'sync_monitor.retry_sync',
        'the Celery task a retry sends (kwargs `crm_source`, `sync_type`, `payload`, `operation_id`)',
    ),
    "RETRY_QUEUE": Variable(
        "retry_queue", TEXT,
        None,
        "the queue retries are sent to; `celery -A dashapp.worker worker` consumes it ahead of the project's "
        'queue, and /health counts its depth too',
        shown='the first of `CELERY_QUEUES` + `_retries`',
    ),
    "RETRY_MAX_ATTEMPTS": Variable(
        "retry_max_attempts", Whole(1, 100),
        '3', 'retries per operation; past them it is abandoned'),
    "RETRY_BULK_LIMIT": Variable(
        "retry_bulk_limit", Whole(1, 100_000),
        '1000', 'the most operations one action may retry'),
    "RETRY_STALE_MINUTES": Variable(
        "retry_stale_minutes", Whole(1, 7 * 24 * 60),
        '60',
        'an operation queued or running this long (its message lost, its worker killed) may be retried again',
    ),
    "RETRY_HANDLERS": Variable(
        "retry_handlers", NAMES,
        None,
        'modules the worker imports to register retry handlers, comma-separated',
        shown="unset (the demo's handlers when embedded)",
    ),
    "AUTH_USERS_FILE": Variable(
        "auth_users_file", FILE,
        None,
        'the users file (JSON: names, roles, scrypt hashes); `python app.py users add` writes it',
    ),
    "AUTH_PROXY_HEADER": Variable(
        "auth_proxy_header", HEADER,
        None,
        "the header a trusted reverse proxy puts the signed-in user's name in (read only on requests from "
        '`FORWARDED_ALLOW_IPS`)',
    ),
    "SECRET_KEY": Variable(
        "secret_key", TEXT,
        None,
        'signs session cookies; set it (the same in every process) in production',
        shown='a random key kept in `secret-key` beside the SQLite files',
    ),
    "SESSION_COOKIE_SECURE": Variable(
        "session_cookie_secure", FLAG,
        'false', 'send the session cookie over HTTPS only'),
    "SIGN_IN_MAX_FAILURES": Variable(
        "sign_in_max_failures", Whole(1, 1000),
        '5',
        'failed sign-ins for one name from one address before further attempts wait (growing delays); one '
        'address may fail 4x this many in the window',
    ),
    "MAX_REQUEST_BYTES": Variable(
        "max_request_bytes", Whole(64 * 1024, 64 * 1024 * 1024),
        '2097152',
        'the largest request body (Dash callbacks included; the JSON API and sign-in take 64 KiB); larger is '
        'a 413',
    ),
    "SIGN_IN_WINDOW_SECONDS": Variable(
        "sign_in_window_seconds", Whole(1, 86400),
        '900', 'the window those failures are counted in'),
    "ALERT_RULES_FILE": Variable(
        "alert_rules_file", FILE,
        None,
        'YAML overriding rule thresholds, switching rules off, and per-CRM SLAs',
        shown='unset: the defaults',
    ),
    "ALERT_INTERVAL_SECONDS": Variable(
        "alert_interval_seconds", Whole(5, 86400),
        '60', "how often the rules are evaluated (beat, or the demo's own loop)"),
    "ALERT_WEBHOOK_URLS": Variable(
        "alert_webhook_urls", URLS,
        None, 'URLs that receive alert events as JSON, comma-separated'),
    "ALERT_SLACK_WEBHOOK_URLS": Variable(
        "alert_slack_webhook_urls", URLS,
        None, 'Slack incoming-webhook URLs, comma-separated'),
    "ALERT_SMTP_HOST": Variable(
        "alert_smtp_host", TEXT,
        None, 'the SMTP server for alert e-mail'),
    "ALERT_SMTP_PORT": Variable(
        "alert_smtp_port", Whole(1, 65535),
        '25', "the SMTP server's port"),
    "ALERT_SMTP_USER": Variable(
        "alert_smtp_user", TEXT,
        None, 'the SMTP sign-in name'),
    "ALERT_SMTP_PASSWORD": Variable(
        "alert_smtp_password", SECRET,
        None, 'the SMTP sign-in password'),
    "ALERT_SMTP_STARTTLS": Variable(
        "alert_smtp_starttls", FLAG,
        'false', 'use STARTTLS with the SMTP server'),
    "ALERT_EMAIL_FROM": Variable(
        "alert_email_from", TEXT,
        'sync-monitor@localhost', "alert e-mail's sender"),
    "ALERT_EMAIL_TO": Variable(
        "alert_email_to", NAMES,
        None, "alert e-mail's recipients, comma-separated"),
    "DIGEST_AT": Variable(
        "digest_at", CLOCK,
        None,
        'the local time (`HH:MM`, 24-hour, in `DISPLAY_TIMEZONE`, else UTC) the morning digest of the 24 hours '
        'before it is sent through the alert channels, once a day however many instances run (empty: no digest)',
    ),
    "PUBLIC_URL": Variable(
        "public_url", ADDRESS,
        None,
        "the app's address as users reach it, for links in notifications; without a path, `URL_PREFIX` is "
        'appended (`https://wh.example.com` -> `https://wh.example.com/ingestion/monitoring/...`), with one it '
        'is used as written',
    ),
    "URL_PREFIX": Variable(
        "url_prefix", PREFIX,
        '/',
        'the path the app is served under, e.g. `/ingestion/monitoring/`: every page, asset, callback, JSON '
        'route, /healthz, /metrics, redirect and the cookies live under it, and anything outside it is a 404 '
        '(the proxy passes the full URI; see "Behind a reverse proxy")',
    ),
    "CACHE_SECONDS": Variable(
        "cache_seconds", _cache_seconds,
        None,
        'how long page and API results are shared between viewers (0: off)',
        shown='`REFRESH_SECONDS` / 3',
    ),
    "STATUS_ALIASES": Variable(
        "status_aliases", ALIASES,
        'completed=success,in_progress=running',
        'raw `status` values counted as one of the four classes (`raw=class`, comma-separated; empty: none)',
    ),
    "BEAT_SCHEMA": Variable(
        "beat_schema", IDENTIFIER,
        None,
        "the schema holding django-celery-beat's tables, when it is not on the role's search path",
        shown='(the search path)',
    ),
    "DB_STATEMENT_TIMEOUT_SECONDS": Variable(
        "db_statement_timeout_seconds", Number(0.0),
        '10',
        'the longest one page or API query may run on PostgreSQL (lock waits included) before it is cancelled'
        ' and its panel says so (0: no limit; the CLI and the worker have none)',
    ),
    "BEHIND_PROXY": Variable(
        "behind_proxy", FLAG,
        'false',
        'a reverse proxy in front: take the client address, scheme and host from `X-Forwarded-For`, `-Proto` '
        'and `-Host`, when the request comes from `FORWARDED_ALLOW_IPS` (from anyone else they are ignored)',
    ),
    "WEB_CONCURRENCY": Variable(
        "web_concurrency", Whole(1, 256),
        None,
        "gunicorn's worker processes (`gunicorn.conf.py`)",
        shown='`2` (1 on a one-core machine)',
    ),
    "WEB_THREADS": Variable(
        "web_threads", Whole(1, 1000),
        '8', "threads per gunicorn worker (`gunicorn.conf.py`)"),
    "FORWARDED_ALLOW_IPS": Variable(
        "forwarded_allow_ips", PROXIES,
        '127.0.0.1',
        'the trusted proxies: addresses and CIDR networks, comma-separated (`*`: any peer). Only a request '
        "whose socket peer is one of them may name its user in `AUTH_PROXY_HEADER` or its client in "
        "`X-Forwarded-*` (gunicorn reads it too); set it to the proxy's address when the proxy runs on "
        'another host',
    ),
    "DEMO_STOPPED_CRMS": Variable(
        "demo_stopped_crms", NAMES,
        None, 'CRMs the embedded demo stops syncing (to watch "late" fire), comma-separated'),
    "LOG_LEVEL": Variable(
        "log_level", LEVEL,
        'info',
        'the log level of `python app.py` and gunicorn: `debug`, `info`, `warning` or `error`',
    ),
    "ROLLUP_REFRESH_SECONDS": Variable(
        "rollup_refresh_seconds", Whole(0, 86400),
        '60',
        'how often the web process brings the run rollups up to date (0: never; then run '
        '`python app.py rollups refresh` from cron)',
    ),
    "MONITOR_DATABASE_URL": Variable(
        "monitor_database_url", TEXT,
        None,
        "a database of the app's own tables (API calls, breakers, failed operations, alerts, audit, rollups); "
        'then `DATABASE_URL` may be a SELECT-only role',
        shown='unset: the warehouse (`DATABASE_URL`)',
    ),
    "EXPORT_WRITE_TIMEOUT_SECONDS": Variable(
        "export_write_timeout_seconds", Whole(1, 3600),
        '30',
        'how long the export waits for a client to take the next chunk before it drops the connection and '
        'frees its thread (1..3600)',
    ),
}


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
    sync_timezone: str
    demo_interval_seconds: float
    celery_queues: tuple[str, ...]
    celery_queue_warn: int
    celery_queue_critical: int
    health_refresh_seconds: int
    health_cache_seconds: float
    health_timeout_seconds: float
    retry_task: str
    retry_queue: str | None
    retry_max_attempts: int
    retry_bulk_limit: int
    retry_stale_minutes: int
    retry_handlers: tuple[str, ...]
    auth_users_file: Path | None
    auth_proxy_header: str | None
    secret_key: str | None
    session_cookie_secure: bool
    sign_in_max_failures: int
    sign_in_window_seconds: int
    alert_rules_file: Path | None
    alert_interval_seconds: int
    alert_webhook_urls: tuple[str, ...]
    alert_slack_webhook_urls: tuple[str, ...]
    alert_email_to: tuple[str, ...]
    alert_email_from: str
    alert_smtp_host: str | None
    alert_smtp_port: int
    alert_smtp_user: str | None
    alert_smtp_password: str | None
    alert_smtp_starttls: bool
    public_url: str | None
    demo_stopped_crms: tuple[str, ...]
    behind_proxy: bool
    cache_seconds: float
    db_statement_timeout_seconds: float
    status_aliases: tuple[tuple[str, str], ...]
    beat_schema: str | None
    max_request_bytes: int
    log_level: str
    web_concurrency: int | None
    web_threads: int
    forwarded_allow_ips: str
    monitor_database_url: str | None
    rollup_refresh_seconds: int
    export_write_timeout_seconds: int
    url_prefix: str = "/"
    digest_at: str | None = None  # HH:MM local (DISPLAY_TIMEZONE); None: no morning digest

    def href(self, path: str) -> str:
        """``path`` (an app path such as ``/history?range=all``) as browsers request it: under URL_PREFIX."""
        return self.url_prefix[:-1] + path

    @property
    def public_base(self) -> str | None:
        """The app's address for links in notifications, without a trailing slash: PUBLIC_URL, with
        URL_PREFIX appended when PUBLIC_URL has no path of its own (None when PUBLIC_URL is unset)."""
        if not self.public_url:
            return None
        if urlsplit(self.public_url).path.strip("/"):
            return self.public_url
        return self.public_url + self.url_prefix[:-1]

    @property
    def retry_queue_name(self) -> str:
        return self.retry_queue or f"{self.celery_queues[0]}_retries"

    @property
    def worker_queues(self) -> tuple[str, ...]:
        """What the worker consumes, in order: the retries queue, then the project's."""
        return tuple(dict.fromkeys((self.retry_queue_name, self.celery_queues[0])))

    @property
    def probed_queues(self) -> tuple[str, ...]:
        """The queues whose depth /health counts: CELERY_QUEUES and the retries queue."""
        return tuple(dict.fromkeys((*self.celery_queues, self.retry_queue_name)))

    @property
    def auth_configured(self) -> bool:
        """True when users can sign in (a users file or a trusted proxy header); without either
        the app is read-only for everyone."""
        return self.auth_users_file is not None or self.auth_proxy_header is not None

    @property
    def trusted_proxies(self) -> TrustedProxies:
        """``FORWARDED_ALLOW_IPS`` as networks (parsed once per value)."""
        return trusted_proxies(self.forwarded_allow_ips)

    @property
    def embedded(self) -> bool:
        """True when no DATABASE_URL is set: the app runs on its own SQLite demo file."""
        return not self.database_url


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default: the process environment), each variable read by
    its entry in VARIABLES."""
    env = dict(os.environ if env is None else env)
    return Settings(**{variable.field: variable.read(env, name) for name, variable in VARIABLES.items()})


