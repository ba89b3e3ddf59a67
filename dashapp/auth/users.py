"""Who is asking, and may they act. Viewers read; operators retry.

Users come from configuration only:
- ``AUTH_USERS_FILE``: a JSON file ``{"users": {"alice": {"role": "operator", "password_hash": "..."}}}``
  written by ``python app.py users add NAME --role operator`` (werkzeug's scrypt hashes; reread
  when the file changes, so removing a user or changing a role takes effect at the next request);
- ``AUTH_PROXY_HEADER``: a reverse proxy that signs users in passes their name in this header;
  their role is the users file's entry when there is one, else viewer. The header counts only on a
  request whose socket peer is a trusted proxy (``FORWARDED_ALLOW_IPS``): ``dashapp.web.trusted_proxy``
  marks each request (``TRUSTED_PEER``) and removes the header from anyone else; without that mark
  it never counts. The proxy must overwrite the header.
With neither, the app is read-only for everyone. Every check runs on the server, in each action's
callback and API route, whatever the page shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from flask import has_request_context, request, session
from werkzeug.security import check_password_hash, generate_password_hash

from dashapp.auth import session_generation
from dashapp.config import Settings

log = logging.getLogger(__name__)
ROLES = ("viewer", "operator")
# WSGI environ keys: whether the request's socket peer is a trusted proxy (set by the web layer's
# middleware for every request), and the user the request was identified as (gunicorn's access
# log prints it: ``%({sync_monitor.user}e)s``).
TRUSTED_PEER = "sync_monitor.trusted_peer"
USER_KEY = "sync_monitor.user"
# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class UsersFileError(ValueError):
    """The users file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    via: str  # "session", "proxy" or "basic"
    paused: str = ""  # why this session may not act now (its sign-out cannot be checked), else ""

    @property
    def can_act(self) -> bool:
        return self.role == "operator" and not self.paused


@dataclass(frozen=True)
class Refusal:
    """Why an action is refused: 401 (sign in), 403 (not allowed) or 503 (actions paused: sign-outs
    cannot be checked right now)."""

    status: int
    message: str

    @property
    def read_only_note(self) -> str:
        """The line a page shows above actions it hides: "Read-only: sign in as an operator …"."""
        return f"Read-only: {self.message.removeprefix('read-only: ')}."


def parse_users(text: str, where: str) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsersFileError(f"{where}: not JSON ({exc.msg}, line {exc.lineno})") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise UsersFileError(f'{where}: expected {{"users": {{"name": {{"role": ..., "password_hash": ...}}}}}}')
    for name, entry in users.items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES:
            raise UsersFileError(f"{where}: user {name!r} needs a role, one of {', '.join(ROLES)}")
        if not isinstance(entry.get("password_hash", ""), str):
            raise UsersFileError(f"{where}: user {name!r} has a password_hash that is not text")
    return users


class UsersFile:
    """The users file, reread when its modification time or size changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, float, int] | None = None
        self._users: dict[str, dict[str, str]] = {}

    def users(self, path: Path) -> dict[str, dict[str, str]]:
        """The users, or none (read-only for everyone) when the file is missing or broken."""
        try:
            stat = path.stat()
        except OSError as exc:
            log.warning("users file %s cannot be read: %s; nobody can sign in", path, exc.strerror)
            return {}
        key = (str(path), stat.st_mtime, stat.st_size)
        with self._lock:
            if key != self._key:
                try:
                    self._users = parse_users(path.read_text(encoding="utf-8"), str(path))
                except (OSError, UnicodeDecodeError, UsersFileError) as exc:
                    log.warning("%s; nobody can sign in until it is fixed", exc)
                    self._users = {}
                self._key = key
            return self._users


USERS = UsersFile()


def known_users(settings: Settings) -> dict[str, dict[str, str]]:
    return USERS.users(settings.auth_users_file) if settings.auth_users_file else {}


class VerifiedPasswords:
    """Passwords checked right lately, so HTTP Basic, which sends the password with every API
    request, does not pay a scrypt check (about 0.2 s of CPU) on each. An entry is the user's name
    and stored hash with an HMAC of the password under a key of this process (never the password),
    kept ``seconds``; a changed password (a new hash), a removed user or a wrong password never
    matches one. Bounded: the oldest go first."""

    def __init__(self, seconds: float = 300.0, most: int = 1000) -> None:
        self.seconds, self.most = seconds, most
        self._key = os.urandom(32)
        self._entries: OrderedDict[tuple[str, str], tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def holds(self, name: str, stored: str, password: str) -> bool:
        with self._lock:
            entry = self._entries.get((name, stored))
        return entry is not None and entry[0] > time.monotonic() and hmac.compare_digest(entry[1],
                                                                                         self._digest(password))

    def add(self, name: str, stored: str, password: str) -> None:
        with self._lock:
            self._entries[(name, stored)] = (time.monotonic() + self.seconds, self._digest(password))
            self._entries.move_to_end((name, stored))
            while len(self._entries) > self.most:
                self._entries.popitem(last=False)


VERIFIED = VerifiedPasswords()


def check_password(settings: Settings, name: str, password: str) -> User | None:
    """The user when ``password`` is theirs; None otherwise (also for unknown names and users
    without a password, such as proxy-only entries). A wrong password or an unknown name always
    costs a full scrypt check; a right one checked lately is answered from ``VERIFIED``."""
    entry = known_users(settings).get(name)
    stored = (entry or {}).get("password_hash") or ""
    if entry is not None and stored and VERIFIED.holds(name, stored, password):
        return _identified(User(name, entry["role"], "session"))
    matches = check_password_hash(stored or _DUMMY_HASH, password)
    if entry is None or not stored or not matches:
        return None
    VERIFIED.add(name, stored, password)
    return _identified(User(name, entry["role"], "session"))


def _identified(user: User) -> User:
    """``user``, noted on this request for the access log."""
    if has_request_context():
        request.environ[USER_KEY] = user.name
    return user


def proxy_user(settings: Settings) -> User | None:
    """The user named in AUTH_PROXY_HEADER, when set and the request comes from a trusted proxy."""
    if not settings.auth_proxy_header or request.environ.get(TRUSTED_PEER) is not True:
        return None
    name = (request.headers.get(settings.auth_proxy_header) or "").strip()
    if not name:
        return None
    entry = known_users(settings).get(name)
    return _identified(User(name[:100], entry["role"] if entry else "viewer", "proxy"))


def current_user(settings: Settings) -> User | None:
    """The signed-in user of this request: the proxy's header (from a trusted proxy only), else
    the session cookie."""
    if not has_request_context():
        return None
    user = proxy_user(settings)
    if user is not None:
        return user
    name = session.get("user")
    if isinstance(name, str) and settings.auth_users_file:
        entry = known_users(settings).get(name)
        # signed out: removed from the file, their password or role changed since this session
        # began, or the session's generation ended (sign-out)
        if entry is None or session.get("fp") != entry_fingerprint(entry):
            return None
        try:
            generation = session_generation.current(settings, name)
        except session_generation.Unknown as unknown:
            # fails closed: this may be a signed-out copy of the cookie, so it reads, but does not act
            return _identified(User(name, "viewer", "session", paused=unknown.paused))
        if session.get("gen") == generation:
            return _identified(User(name, entry["role"], "session"))
    return None


def entry_fingerprint(entry: dict[str, str]) -> str:
    """A digest of a user's role and password hash: a session keeps it, and a change of either
    ends every session begun before (no storage needed)."""
    digest = hashlib.sha256(f"{entry.get('role')}\x00{entry.get('password_hash', '')}".encode()).hexdigest()
    return digest[:32]


def start_session(settings: Settings, user: User) -> None:
    """Sign ``user`` in on this request's session cookie, in the current generation."""
    entry = known_users(settings).get(user.name) or {}
    session.clear()
    session["user"] = user.name
    session["fp"] = entry_fingerprint(entry)
    try:
        session["gen"] = session_generation.current(settings, user.name)
    except session_generation.Unknown:
        session["gen"] = None  # reads (actions paused) while the store is down; signed out once it answers
    session.permanent = True


def refusal(settings: Settings, user: User | None, action: str = "retry") -> Refusal | None:
    """None when ``user`` may ``action``; else why not."""
    if not settings.auth_configured:
        return Refusal(403, "read-only: no users are configured (set AUTH_USERS_FILE or AUTH_PROXY_HEADER)")
    if user is None:
        return Refusal(401, f"sign in as an operator to {action}")
    if user.paused:
        return Refusal(503, user.paused)
    if not user.can_act:
        return Refusal(403, f"{user.name} is a viewer; only operators may {action}")
    return None


def add_user(path: Path, name: str, role: str, password: str | None) -> None:
    """Add or replace ``name`` in the users file (created if missing), with a scrypt hash of
    ``password`` (None: no password, for a proxy-only user)."""
    if role not in ROLES:
        raise UsersFileError(f"role must be one of {', '.join(ROLES)}")
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise UsersFileError("a user name is 1-100 characters without spaces")
    users = parse_users(path.read_text(encoding="utf-8"), str(path)) if path.exists() else {}
    users[name] = {"role": role, "password_hash": generate_password_hash(password) if password else ""}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"users": users}, indent=2) + "\n", encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(path)
