"""Every setting of Sync Monitor, read from environment variables only.

Each setting has its default here and a row in the README's configuration table.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Variable:
    """One environment variable: its default as the environment would spell it (None: unset) and
    what it does; ``shown`` is the default as the README says it, where the value alone would not."""

    default: str | None
    help: str
    shown: str | None = None


# Every setting, its default and its help, once. The README's configuration table is checked
# against this (tests/test_layout.py); load_settings takes every default from here.
VARIABLES: dict[str, Variable] = {
    "DATABASE_URL": Variable(
        None,
        'the warehouse, e.g. `postgresql://user:pw@host:5432/db` (psycopg2)',
        shown='unset: the embedded SQLite demo',
    ),
    "SYNC_SCHEMA": Variable('orchestration', 'the schema holding `sync_history` and `sync_schedule`'),
    "APP_SCHEMA": Variable('sync_monitor', "the schema of the app's own tables (API calls, breaker transitions)"),
    "SYNC_TIMEZONE": Variable('UTC', "the zone the user's `TIMESTAMP` columns hold"),
    "SQLITE_PATH": Variable('data/demo.sqlite3', "the embedded demo's file"),
    "DEMO_INTERVAL_SECONDS": Variable(
        '5',
        "how often the embedded demo checks which sync is due by its schedule (at most 5 s; with a broker, in "
        "Celery beat's process)",
    ),
    "REDIS_URL": Variable(
        None,
        'Redis: probed on /health, and holds the shared health cache, sign-in limits and session generations',
    ),
    "CELERY_BROKER_URL": Variable(None, 'the Celery broker (Redis or RabbitMQ)', shown='`REDIS_URL`'),
    "CELERY_QUEUES": Variable(
        'celery',
        "the queues whose depth counts as pending tasks, comma-separated; the first is the project's tasks' "
        'queue',
    ),
    "CELERY_QUEUE_WARN": Variable(
        '10',
        'waiting tasks (all probed queues together) above which the Celery card turns amber, saying how many '
        'wait',
    ),
    "CELERY_QUEUE_CRITICAL": Variable('50', 'waiting tasks above which the Celery card turns red'),
    "HEALTH_REFRESH_SECONDS": Variable('10', 'how often the health strip and /health refresh'),
    "HEALTH_CACHE_SECONDS": Variable(
        '5',
        'how long a health snapshot is fresh; up to 12 times that it is still shown while a new one is probed'
        ' (0: probe on every request)',
    ),
    "HEALTH_TIMEOUT_SECONDS": Variable('1.5', "the probes' deadline"),
    "REFRESH_SECONDS": Variable('30', 'how often pages refresh themselves (2..86400)'),
    "HOST": Variable('127.0.0.1', 'the address `python app.py` listens on'),
    "PORT": Variable('8050', 'the port `python app.py` listens on'),
    "DISPLAY_TIMEZONE": Variable(
        None,
        'an IANA zone to show times in, e.g. `Europe/Berlin`',
        shown="the viewer's browser zone",
    ),
    "RETRY_TASK": Variable(
        'sync_monitor.retry_sync',
        'the Celery task a retry sends (kwargs `crm_source`, `sync_type`, `payload`, `operation_id`)',
    ),
    "RETRY_QUEUE": Variable(
        None,
        "the queue retries are sent to; `celery -A dashapp.worker worker` consumes it ahead of the project's "
        'queue, and /health counts its depth too',
        shown='the first of `CELERY_QUEUES` + `_retries`',
    ),
    "RETRY_MAX_ATTEMPTS": Variable('3', 'retries per operation; past them it is abandoned'),
    "RETRY_BULK_LIMIT": Variable('1000', 'the most operations one action may retry'),
    "RETRY_STALE_MINUTES": Variable(
        '60',
        'an operation queued or running this long (its message lost, its worker killed) may be retried again',
    ),
    "RETRY_HANDLERS": Variable(
        None,
        'modules the worker imports to register retry handlers, comma-separated',
        shown="unset (the demo's handlers when embedded)",
    ),
    "AUTH_USERS_FILE": Variable(
        None,
        'the users file (JSON: names, roles, scrypt hashes); `python app.py users add` writes it',
    ),
    "AUTH_PROXY_HEADER": Variable(
        None,
        "the header a trusted reverse proxy puts the signed-in user's name in (read only on requests from "
        '`FORWARDED_ALLOW_IPS`)',
    ),
    "SECRET_KEY": Variable(
        None,
        'signs session cookies; set it (the same in every process) in production',
        shown='a random key kept in `secret-key` beside the SQLite files',
    ),
    "SESSION_COOKIE_SECURE": Variable('false', 'send the session cookie over HTTPS only'),
    "SIGN_IN_MAX_FAILURES": Variable(
        '5',
        'failed sign-ins for one name from one address before further attempts wait (growing delays); one '
        'address may fail 4x this many in the window',
    ),
    "MAX_REQUEST_BYTES": Variable(
        '2097152',
        'the largest request body (Dash callbacks included; the JSON API and sign-in take 64 KiB); larger is '
        'a 413',
    ),
    "SIGN_IN_WINDOW_SECONDS": Variable('900', 'the window those failures are counted in'),
    "ALERT_RULES_FILE": Variable(
        None,
        'YAML overriding rule thresholds, switching rules off, and per-CRM SLAs',
        shown='unset: the defaults',
    ),
    "ALERT_INTERVAL_SECONDS": Variable('60', "how often the rules are evaluated (beat, or the demo's own loop)"),
    "ALERT_WEBHOOK_URLS": Variable(None, 'URLs that receive alert events as JSON, comma-separated'),
    "ALERT_SLACK_WEBHOOK_URLS": Variable(None, 'Slack incoming-webhook URLs, comma-separated'),
    "ALERT_SMTP_HOST": Variable(None, 'the SMTP server for alert e-mail'),
    "ALERT_SMTP_PORT": Variable('25', "the SMTP server's port"),
    "ALERT_SMTP_USER": Variable(None, 'the SMTP sign-in name'),
    "ALERT_SMTP_PASSWORD": Variable(None, 'the SMTP sign-in password'),
    "ALERT_SMTP_STARTTLS": Variable('false', 'use STARTTLS with the SMTP server'),
    "ALERT_EMAIL_FROM": Variable('sync-monitor@localhost', "alert e-mail's sender"),
    "ALERT_EMAIL_TO": Variable(None, "alert e-mail's recipients, comma-separated"),
    "PUBLIC_URL": Variable(
        None,
        "the app's address as users reach it, for links in notifications; without a path, `URL_PREFIX` is "
        'appended (`https://wh.example.com` -> `https://wh.example.com/ingestion/monitoring/...`), with one it '
        'is used as written',
    ),
    "URL_PREFIX": Variable(
        '/',
        'the path the app is served under, e.g. `/ingestion/monitoring/`: every page, asset, callback, JSON '
        'route, /healthz, /metrics, redirect and the cookies live under it, and anything outside it is a 404 '
        '(the proxy passes the full URI; see "Behind a reverse proxy")',
    ),
    "CACHE_SECONDS": Variable(
        None,
        'how long page and API results are shared between viewers (0: off)',
        shown='`REFRESH_SECONDS` / 3',
    ),
    "STATUS_ALIASES": Variable(
        'completed=success,in_progress=running',
        'raw `status` values counted as one of the four classes (`raw=class`, comma-separated; empty: none)',
    ),
    "BEAT_SCHEMA": Variable(
        None,
        "the schema holding django-celery-beat's tables, when it is not on the role's search path",
        shown='(the search path)',
    ),
    "DB_STATEMENT_TIMEOUT_SECONDS": Variable(
        '10',
        'the longest one page or API query may run on PostgreSQL (lock waits included) before it is cancelled'
        ' and its panel says so (0: no limit; the CLI and the worker have none)',
    ),
    "BEHIND_PROXY": Variable(
        'false',
        'a reverse proxy in front: take the client address, scheme and host from `X-Forwarded-For`, `-Proto` '
        'and `-Host`, when the request comes from `FORWARDED_ALLOW_IPS` (from anyone else they are ignored)',
    ),
    "WEB_CONCURRENCY": Variable(
        None,
        "gunicorn's worker processes (`gunicorn.conf.py`)",
        shown='`2` (1 on a one-core machine)',
    ),
    "WEB_THREADS": Variable('8', "threads per gunicorn worker (`gunicorn.conf.py`)"),
    "FORWARDED_ALLOW_IPS": Variable(
        '127.0.0.1',
        'the trusted proxies: addresses and CIDR networks, comma-separated (`*`: any peer). Only a request '
        "whose socket peer is one of them may name its user in `AUTH_PROXY_HEADER` or its client in "
        "`X-Forwarded-*` (gunicorn reads it too); set it to the proxy's address when the proxy runs on "
        'another host',
    ),
    "DEMO_STOPPED_CRMS": Variable(None, 'CRMs the embedded demo stops syncing (to watch "late" fire), comma-separated'),
    "LOG_LEVEL": Variable(
        'info',
        'the log level of `python app.py` and gunicorn: `debug`, `info`, `warning` or `error`',
    ),
    "ROLLUP_REFRESH_SECONDS": Variable(
        '60',
        'how often the web process brings the run rollups up to date (0: never; then run '
        '`python app.py rollups refresh` from cron)',
    ),
    "MONITOR_DATABASE_URL": Variable(
        None,
        "a database of the app's own tables (API calls, breakers, failed operations, alerts, audit, rollups); "
        'then `DATABASE_URL` may be a SELECT-only role',
        shown='unset: the warehouse (`DATABASE_URL`)',
    ),
    "EXPORT_WRITE_TIMEOUT_SECONDS": Variable(
        '30',
        'how long the export waits for a client to take the next chunk before it drops the connection and '
        'frees its thread (1..3600)',
    ),
}


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
    statement_timeout_seconds: float
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


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    schema = _text(env, "SYNC_SCHEMA")
    if not _IDENTIFIER.match(schema):
        raise ConfigError(f"SYNC_SCHEMA={schema!r} is not a plain SQL identifier")
    app_schema = _text(env, "APP_SCHEMA")
    if not _IDENTIFIER.match(app_schema) or app_schema == schema:
        raise ConfigError(f"APP_SCHEMA={app_schema!r} must be a plain SQL identifier other than SYNC_SCHEMA")
    redis_url = _text(env, "REDIS_URL")
    sqlite_path = Path(env.get("SQLITE_PATH", "").strip() or PROJECT_ROOT / VARIABLES["SQLITE_PATH"].default)
    return Settings(
        database_url=_text(env, "DATABASE_URL"),
        sync_schema=schema,
        app_schema=app_schema,
        sqlite_path=sqlite_path.resolve(),
        redis_url=redis_url,
        celery_broker_url=_text(env, "CELERY_BROKER_URL") or redis_url,
        refresh_seconds=_int(env, "REFRESH_SECONDS", 2, 86400),
        host=_text(env, "HOST"),
        port=_int(env, "PORT", 1, 65535),
        display_timezone=_zone(env, "DISPLAY_TIMEZONE"),
        data_timezone=_zone(env, "SYNC_TIMEZONE"),
        demo_interval_seconds=_float(env, "DEMO_INTERVAL_SECONDS", 0.2),
        celery_queues=_names(_text(env, "CELERY_QUEUES")) or _names(VARIABLES["CELERY_QUEUES"].default),
        celery_queue_warn=_int(env, "CELERY_QUEUE_WARN", 1, 10_000_000),
        celery_queue_critical=_int(env, "CELERY_QUEUE_CRITICAL", 1, 10_000_000),
        health_refresh_seconds=_int(env, "HEALTH_REFRESH_SECONDS", 2, 3600),
        health_cache_seconds=_float(env, "HEALTH_CACHE_SECONDS", 0.0),
        health_timeout_seconds=_float(env, "HEALTH_TIMEOUT_SECONDS", 0.1),
        retry_task=_text(env, "RETRY_TASK"),
        retry_queue=_text(env, "RETRY_QUEUE"),
        retry_max_attempts=_int(env, "RETRY_MAX_ATTEMPTS", 1, 100),
        retry_bulk_limit=_int(env, "RETRY_BULK_LIMIT", 1, 100_000),
        retry_stale_minutes=_int(env, "RETRY_STALE_MINUTES", 1, 7 * 24 * 60),
        retry_handlers=_names(_text(env, "RETRY_HANDLERS")),
        auth_users_file=Path(users).resolve() if (users := _text(env, "AUTH_USERS_FILE")) else None,
        auth_proxy_header=_header(env, "AUTH_PROXY_HEADER"),
        secret_key=_text(env, "SECRET_KEY"),
        session_cookie_secure=_bool(env, "SESSION_COOKIE_SECURE"),
        sign_in_max_failures=_int(env, "SIGN_IN_MAX_FAILURES", 1, 1000),
        sign_in_window_seconds=_int(env, "SIGN_IN_WINDOW_SECONDS", 1, 86400),
        alert_rules_file=Path(rules).resolve() if (rules := _text(env, "ALERT_RULES_FILE")) else None,
        alert_interval_seconds=_int(env, "ALERT_INTERVAL_SECONDS", 5, 86400),
        alert_webhook_urls=_urls(env, "ALERT_WEBHOOK_URLS"),
        alert_slack_webhook_urls=_urls(env, "ALERT_SLACK_WEBHOOK_URLS"),
        alert_email_to=_names(_text(env, "ALERT_EMAIL_TO")),
        alert_email_from=_text(env, "ALERT_EMAIL_FROM"),
        alert_smtp_host=_text(env, "ALERT_SMTP_HOST"),
        alert_smtp_port=_int(env, "ALERT_SMTP_PORT", 1, 65535),
        alert_smtp_user=_text(env, "ALERT_SMTP_USER"),
        alert_smtp_password=env.get("ALERT_SMTP_PASSWORD") or None,  # not stripped: spaces may be part of it
        alert_smtp_starttls=_bool(env, "ALERT_SMTP_STARTTLS"),
        public_url=((_text(env, "PUBLIC_URL") or "").rstrip("/") or None),
        demo_stopped_crms=_names(_text(env, "DEMO_STOPPED_CRMS")),
        behind_proxy=_bool(env, "BEHIND_PROXY"),
        cache_seconds=_float(env, "CACHE_SECONDS", 0.0, default=_int(env, "REFRESH_SECONDS", 2, 86400) / 3),
        statement_timeout_seconds=_float(env, "DB_STATEMENT_TIMEOUT_SECONDS", 0.0),
        status_aliases=_aliases(env, "STATUS_ALIASES"),
        beat_schema=_identifier(env, "BEAT_SCHEMA"),
        max_request_bytes=_int(env, "MAX_REQUEST_BYTES", 64 * 1024, 64 * 1024 * 1024),
        log_level=log_level(env),
        web_concurrency=_int(env, "WEB_CONCURRENCY", 1, 256) if _text(env, "WEB_CONCURRENCY") else None,
        web_threads=_int(env, "WEB_THREADS", 1, 1000),
        forwarded_allow_ips=_proxies(env, "FORWARDED_ALLOW_IPS"),
        monitor_database_url=_text(env, "MONITOR_DATABASE_URL"),
        rollup_refresh_seconds=_int(env, "ROLLUP_REFRESH_SECONDS", 0, 86400),
        export_write_timeout_seconds=_int(env, "EXPORT_WRITE_TIMEOUT_SECONDS", 1, 3600),
        url_prefix=url_prefix(env),
    )


LOG_LEVELS = ("debug", "info", "warning", "error")


def log_level(env: dict[str, str] | None = None) -> str:
    """LOG_LEVEL, checked (``app.py`` sets up logging with it before the other settings are read)."""
    level = _text(dict(os.environ if env is None else env), "LOG_LEVEL").lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


# Unreserved URL characters only: a prefix also goes into the cookie path, HTML and JavaScript as it is.
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")


def url_prefix(env: dict[str, str] | None = None) -> str:
    """URL_PREFIX with one leading and one trailing slash (``ingestion/monitoring`` is
    ``/ingestion/monitoring/``); raises ConfigError naming the problem with a bad value."""
    raw = _text(dict(os.environ if env is None else env), "URL_PREFIX") or "/"
    problem = _prefix_problem(raw)
    if problem:
        raise ConfigError(f"URL_PREFIX={raw[:80]!r} {problem}; use a plain path such as /ingestion/monitoring/")
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
