"""Query-string parameters of the JSON routes: a bad value is a BadParameter (a 400 naming it)."""

from __future__ import annotations

from flask import request

from dashapp.errors import BadParameter


def int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, f"{raw[:40]!r} is not a whole number") from None
    if not low <= value <= high:
        raise BadParameter(name, f"must be between {low} and {high}, got {value}")
    return value
