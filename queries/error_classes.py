"""Error classes: messages with their variable parts (numbers, ids, UUIDs, times, quoted values,
hostnames) replaced by placeholders, so the same failure groups as one class. Pure text work."""

from __future__ import annotations

import functools
import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"), "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b"), "<time>"),
    (re.compile(r"(?<=://)[^/\s:'\"]+"), "<host>"),
    (re.compile(r"(?<=host=')[^']+"), "<host>"),
    (re.compile(r"\b(?:[a-z0-9-]+\.){2,}[a-z]{2,}\b", re.I), "<host>"),
    (re.compile(r"'[^']*'"), "'<value>'"),
    (re.compile(r'"[^"]*"'), '"<value>"'),
    (re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b", re.I), "<id>"),
    (re.compile(r"\b[A-Z]{2,5}[0-9a-f]{16,}\b"), "<id>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)
MAX_LENGTH = 240
_PLACEHOLDER = re.compile(r"<(?:uuid|time|host|value|id|n)>|'<value>'|\"<value>\"")


@functools.lru_cache(maxsize=65_536)  # the same messages come back at every refresh
def error_class(message: str | None) -> str:
    """``HTTPError: 429 ... url: https://api.hubapi.com/...?after=48213`` ->
    ``HTTPError: <n> ... url: https://<host>/...?after=<n>``."""
    text = (message or "").strip()
    if not text:
        return "(no message)"
    text = text.splitlines()[0] if len(text) > MAX_LENGTH else text
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return text.strip()[:MAX_LENGTH]


def search_text(error_class_text: str) -> str:
    """The longest literal stretch of a class, to find its runs with an error-text search."""
    pieces = [p.strip(" :,;=()[]") for p in _PLACEHOLDER.split(error_class_text)]
    return max(pieces, key=len, default="")[:120]
