"""The shape of a Dash callback request (``POST /_dash-update-component``), checked before Dash
reads it: the renderer always sends ``{"output", "outputs", "inputs", "state", "changedPropIds"}``
naming one of this app's callbacks with its declared inputs and state in order. Anything else is
refused with a 400 naming the part that is wrong, instead of a KeyError deep in Dash (a 500).
Values are the callbacks' own business: each checks what it reads."""

from __future__ import annotations

from collections.abc import Mapping


def _matches(declared: dict, sent: object) -> bool:
    """One declared input or state against what was sent: ``{"id", "property", "value"}``, or a
    list of those for a pattern-matching (ALL) id."""
    if declared["id"].startswith("{"):  # a wildcard id: a list, one item per matching component
        return isinstance(sent, list) and all(
            isinstance(item, dict) and isinstance(item.get("id"), dict) and item.get("property") == declared["property"]
            for item in sent)
    return isinstance(sent, dict) and sent.get("id") == declared["id"] and sent.get("property") == declared["property"]


def problem(body: object, callback_map: Mapping[str, dict]) -> str | None:
    """None when ``body`` is a well-formed request for one of ``callback_map``'s callbacks; else
    what is wrong, starting with the part's name (``output: ...``)."""
    if not isinstance(body, dict):
        return "body: must be a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return "output: not a callback of this app"
    spec = callback_map[output]
    if not isinstance(body.get("outputs"), dict | list):
        return "outputs: must be an object or a list"
    for part in ("inputs", "state"):
        sent = body.get(part, [])
        declared = spec.get(part) or []
        if not isinstance(sent, list) or len(sent) != len(declared) or not all(
                _matches(d, s) for d, s in zip(declared, sent, strict=True)):
            return f"{part}: not the callback's declared {part}"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(item, str) for item in changed):
        return "changedPropIds: must be a list of text"
    return None
