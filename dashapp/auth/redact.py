"""URLs cut to their scheme and host before a text is stored, logged or shown: a webhook's path
and query are its credential (a Slack incoming-webhook URL lets anyone post in the channel), so
``https://hooks.slack.com/services/T0/B0/XXXX?token=1`` becomes ``https://hooks.slack.com/…``.

Applies to every URL in a text (user and password, port, path, query and fragment dropped), to a
host and path written without a scheme, and to the ``url: /path?query`` that requests and urllib3
print of a request they could not make ("Max retries exceeded with url: /services/T0/B0/XXXX
(Caused by ...)")."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

CUT = "…"
# scheme://[user[:password]@]host[:port][/path][?query][#fragment], up to a space, quote or bracket
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]{0,19})://([^\s/?#'\"<>()\[\]]*(?:\[[0-9A-Fa-f:.]+\][^\s/?#'\"<>()]*)?)"
                  r"([/?#][^\s'\"<>()]*)?")
# "url: /path?query" (requests' and urllib3's "with url: ..."), "path: /x", "endpoint /x?y"
_PATH_AFTER = re.compile(r"\b(url|path|endpoint)(:?\s+|=)(['\"]?)/[^\s'\"<>()]*", re.IGNORECASE)
# host.name[:port]/path without a scheme ("Invalid URL 'hooks.slack.com/services/...'")
_BARE = re.compile(r"(?<![\w.:/-])((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63})(?::\d{1,5})?/[^\s'\"<>()]+")
_TRAILING = ".,;:!?"


def _host(netloc: str) -> str:
    """The host of ``[user[:password]@]host[:port]``; an IPv6 address keeps its brackets."""
    host = netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.split(":", 1)[0]


def _url(match: re.Match) -> str:
    scheme, netloc, rest = match.group(1), match.group(2), match.group(3) or ""
    trailing = ""
    if not rest:  # "https://host:" at the end of a sentence: the colon is the sentence's
        while netloc and netloc[-1] in _TRAILING:
            trailing, netloc = netloc[-1] + trailing, netloc[:-1]
    while rest and rest[-1] in _TRAILING:
        trailing, rest = rest[-1] + trailing, rest[:-1]
    host = _host(netloc)
    cut = netloc != host or (rest not in ("", "/"))
    return f"{scheme}://{host}" + (f"/{CUT}" if cut else rest) + trailing


def redact_urls(text: str | None) -> str | None:
    """``text`` with every URL cut to ``scheme://host/…`` and every ``url: /path`` to ``url: /…``."""
    if not text:
        return text
    text = _URL.sub(_url, text)
    text = _BARE.sub(lambda m: f"{m.group(1)}/{CUT}", text)
    return _PATH_AFTER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}/{CUT}", text)


def without_secrets_of(text: str | None, url: str) -> str | None:
    """``text`` without any part of ``url`` that is its credential: a server that answers with
    the path it was called on (``internal error for /hook/SECRET?key=...``) or one of its segments
    (``unknown token XXXX``) would otherwise put it back. The user, password, path, each path
    segment of 4 characters or more, the query, each query value and the fragment become ``…``
    (the path ``/…``);
    then every URL is cut as ``redact_urls`` does."""
    if not text:
        return text
    parts = urlsplit(url)
    secrets = {parts.path, parts.query, parts.fragment, parts.username or "", parts.password or ""}
    secrets.update(segment for segment in parts.path.split("/") if len(segment) >= 4)
    secrets.update(value for _, value in parse_qsl(parts.query) if len(value) >= 4)
    for secret in sorted((s for s in secrets if s and s != "/"), key=len, reverse=True):
        cut = f"/{CUT}" if secret == parts.path and secret.startswith("/") else CUT
        text = text.replace(secret, cut)
        if unquote(secret) != secret:
            text = text.replace(unquote(secret), cut)
    return redact_urls(text)
