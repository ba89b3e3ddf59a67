"""Headers from a reverse proxy count only when the request comes from one (FORWARDED_ALLOW_IPS).

A WSGI middleware in front of the whole app (pages, Dash callbacks and API routes alike):
- it marks each request with whether its socket peer is a trusted proxy
  (``users.TRUSTED_PEER``; a Unix socket peer counts as trusted, as in gunicorn);
- from any other peer it removes ``AUTH_PROXY_HEADER`` (the user is anonymous) and ignores
  ``X-Forwarded-*`` (the address is the socket's), and says so once per peer address in the log;
- from a trusted peer with ``BEHIND_PROXY`` on, it takes the client address from
  ``X-Forwarded-For`` (the right-most address that is not itself a trusted proxy, as nginx's
  ``real_ip_recursive`` does), and the scheme and host from ``X-Forwarded-Proto`` and ``-Host``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Callable, Iterable

from dashapp.auth.users import TRUSTED_PEER
from dashapp.config import Settings, TrustedProxies

log = logging.getLogger(__name__)
PEER_ADDR = "sync_monitor.peer_addr"  # the socket's address, kept when REMOTE_ADDR is the client's
FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")
MAX_HOPS = 32  # X-Forwarded-For entries looked at, from the right
MAX_WARNED_PEERS = 64
_HOST = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$")


def environ_key(header: str) -> str:
    """The WSGI environ key of a request header: ``X-Forwarded-User`` is ``HTTP_X_FORWARDED_USER``."""
    return "HTTP_" + header.upper().replace("-", "_")


def peer_is_trusted(peer: str, proxies: TrustedProxies) -> bool:
    if peer in proxies:
        return True
    try:
        ipaddress.ip_address(peer.strip())
    except ValueError:
        return True  # not an IP address: a Unix socket, which only local processes reach (gunicorn: trusted)
    return False


def client_address(forwarded_for: str, peer: str, proxies: TrustedProxies) -> str:
    """The client named by ``X-Forwarded-For`` from the trusted ``peer``: walking from the right,
    the first address that is not a trusted proxy (all trusted: the left-most). An entry that is
    not an IP address ends the walk at the last trusted hop."""
    hops = [hop.strip() for hop in forwarded_for.split(",")][-MAX_HOPS:]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            _warn_once(("bad-hop", peer), "%s sent an X-Forwarded-For entry that is not an IP address (%r); "
                       "using %s as the client", peer, hop[:60], client)
            return client
        client = address
        if address not in proxies:
            return address
    return client


def _address(hop: str) -> str | None:
    """An X-Forwarded-For entry as an IP address (``[v6]:port`` and ``v4:port`` forms too)."""
    candidates = [hop]
    if hop.startswith("[") and "]" in hop:
        candidates.append(hop[1:hop.index("]")])
    elif hop.count(":") == 1:
        candidates.append(hop.split(":", 1)[0])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def _last(value: str) -> str:
    return value.split(",")[-1].strip()


class TrustedProxy:
    """The middleware; ``settings`` gives the settings of each request (the running app's)."""

    def __init__(self, app: Callable, settings: Callable[[], Settings]) -> None:
        self.app = app
        self.settings = settings

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        settings = self.settings()
        proxies = settings.trusted_proxies
        peer = str(environ.get("REMOTE_ADDR") or "")
        trusted = peer_is_trusted(peer, proxies)
        environ[TRUSTED_PEER] = trusted
        environ[PEER_ADDR] = peer
        user_key = environ_key(settings.auth_proxy_header) if settings.auth_proxy_header else None
        if not trusted:
            sent = (user_key, *(FORWARDED if settings.behind_proxy else ()))
            ignored = [key for key in sent if key and key in environ]
            if user_key:
                environ.pop(user_key, None)
            if ignored:
                names = ", ".join(key[5:].replace("_", "-").title() for key in ignored)
                _warn_once(("untrusted", peer), "ignored %s from %s: not a trusted proxy (FORWARDED_ALLOW_IPS=%s); "
                           "its requests are anonymous and keep their own address (said once per address)",
                           names, peer, settings.forwarded_allow_ips)
        elif settings.behind_proxy:
            self._apply_forwarded(environ, peer, proxies)
        return self.app(environ, start_response)

    @staticmethod
    def _apply_forwarded(environ: dict, peer: str, proxies: TrustedProxies) -> None:
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded_for:
            environ["REMOTE_ADDR"] = client_address(forwarded_for, peer, proxies)
        proto = _last(environ.get("HTTP_X_FORWARDED_PROTO") or "").lower()
        if proto in ("http", "https"):
            environ["wsgi.url_scheme"] = proto
        host = _last(environ.get("HTTP_X_FORWARDED_HOST") or "")
        if host and _HOST.match(host):
            environ["HTTP_HOST"] = host


_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _warn_once(key: tuple[str, str], message: str, *args: object) -> None:
    """Log ``message`` at WARNING the first time ``key`` (what, peer address) is seen in this
    process; at most MAX_WARNED_PEERS keys are remembered, then one last line says so."""
    with _warned_lock:
        if key in _warned or len(_warned) > MAX_WARNED_PEERS:
            return
        _warned.add(key)
        full = len(_warned) > MAX_WARNED_PEERS
    log.warning(message, *args)
    if full:
        log.warning("more peers sent proxy headers without being trusted proxies; no longer logged")
