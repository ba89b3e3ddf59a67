"""Signing in and out, and the session cookie.

``POST /auth/sign-in`` (form: username, password, next) sets a signed session cookie (HttpOnly,
SameSite=Lax, Secure when SESSION_COOKIE_SECURE, its path URL_PREFIX) and goes back to ``next``; a wrong password or a
limited address goes back to ``/sign-in`` with a message. ``POST /auth/sign-out`` clears it. POSTs
from another site's page (an Origin header naming another host) are refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import unicodedata
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

from flask import Flask, abort, redirect, request, session
from sqlalchemy.exc import SQLAlchemyError

from dashapp import runtime
from dashapp.auth import audit, session_generation, sign_in_limit
from dashapp.auth import users as auth
from dashapp.config import Settings
from dashapp.payloads import paths
from dashapp.web.request_guard import cross_site

log = logging.getLogger(__name__)
SESSION_HOURS = 12


def secret_key(settings: Settings) -> str:
    """SECRET_KEY, else a random key kept in ``secret-key`` beside the SQLite files (created once,
    mode 0600), so every worker process and restart signs cookies alike."""
    if settings.secret_key:
        return settings.secret_key
    path: Path = settings.sqlite_path.parent / "secret-key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip()
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32))
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        log.warning("cannot keep a secret key in %s (%s): sessions last as long as this process; set SECRET_KEY",
                    path, exc.strerror)
        return secrets.token_hex(32)


def configure(server: Flask, settings: Settings) -> None:
    server.secret_key = secret_key(settings)
    server.config.update(
        SESSION_COOKIE_NAME="sync_monitor_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        SESSION_COOKIE_PATH=settings.url_prefix,  # dashapp.web.url_prefix.apply keeps it so
    )


def _unsafe_character(text: str) -> bool:
    """Whitespace or a control/format character: browsers drop tabs and newlines from URLs (so
    ``/<TAB>/evil.example`` becomes ``//evil.example``) and a header cannot hold a newline."""
    return any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this app (under URL_PREFIX), else the app's first page (no
    open redirects, and no leaving the prefix for another app on the same host).

    Checked on the raw value and once more decoded once (``/%2F/x``, ``/%0A/x``), with backslashes
    read as slashes, as a browser would: only a single-slash path without a scheme or host passes."""
    home = paths.href("/")
    if not target or len(target) > 2000 or _unsafe_character(target) or "\\" in target:
        return home
    decoded = unquote(target)
    path = decoded.split("?", 1)[0].split("#", 1)[0]
    if _unsafe_character(path) or not path.startswith(home) or "/../" in path + "/" or "/./" in path + "/":
        return home
    for form in (target, decoded.replace("\\", "/")):
        parts = urlsplit(form)
        if not form.startswith("/") or form.startswith("//") or parts.scheme or parts.netloc:
            return home
    return target


def _back_to_form(error: str, target: str):
    """The form again with its message. What was typed in the name field stays out of the URL
    (people type passwords there; a URL lands in the history, proxies' logs and Referer headers)."""
    query = urlencode({"error": error, "next": target})
    return redirect(paths.href(f"/sign-in?{query}"), code=303)


def sign_in():
    if cross_site():
        abort(403)
    settings = runtime.settings()
    name = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    target = local_path(request.form.get("next"))
    if not settings.auth_users_file:
        return _back_to_form("no-users", target)
    # the attempt is reserved (and counted as a failure) before the password is checked, so a
    # burst of attempts gets no more checks than the limit allows
    attempt = sign_in_limit.reserve(settings, sign_in_limit.keys(request.remote_addr, name))
    if attempt.refused:
        _audit(None, "refused: too many attempts", name)
        return _back_to_form("locked", target)
    user = auth.check_password(settings, name, password)
    if user is None:
        _audit(None, "failed", name)
        log.info("sign-in failed for %s from %s", _known(settings, name), request.remote_addr)
        return _back_to_form("invalid", target)
    sign_in_limit.succeeded(settings, attempt)
    auth.start_session(settings, user)
    _audit(user, "ok", name)
    log.info("%s signed in (%s) from %s", user.name, user.role, request.remote_addr)
    return redirect(target, code=303)


def sign_out():
    if cross_site():
        abort(403)
    settings = runtime.settings()
    user = auth.current_user(settings)
    session.clear()
    if user is not None:
        if user.via == "session":  # a copy of this cookie (or any other session of theirs) ends too
            session_generation.advance(settings, user.name)
        _audit(user, "ok", user.name, action="sign_out")
    return redirect(paths.href("/"), code=303)


UNKNOWN_NAME = "(not a user)"


def _known(settings: Settings, name: str) -> str:
    """``name`` when it is a user's; else a placeholder: people type passwords into the name field,
    so a name that is nobody's is neither audited nor logged."""
    return name if name in auth.known_users(settings) else UNKNOWN_NAME


def _audit(user: auth.User | None, result: str, name: str, action: str = "sign_in") -> None:
    actor = user.name if user is not None else _known(runtime.settings(), name)
    with contextlib.suppress(SQLAlchemyError):  # logged by audit.record; signing in does not need the app's tables
        audit.record(runtime.engine(), user, action, "ok" if result == "ok" else "denied",
                     detail="" if result == "ok" else result, source="sign-in", actor=actor)
