"""Posting to a Dash callback the way the browser does (``/_dash-update-component``), for tests
that check what the server does with a request no page would send."""

from __future__ import annotations


def callback_body(dash_app, output_part: str, inputs: list[dict], state: list[dict]) -> tuple[str, list[dict]]:
    """The callback whose output key contains ``output_part``, and the body that calls it."""
    key = next(k for k in dash_app.callback_map if output_part in k)
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True))
               for part in key.strip(".").split("...")]
    body = {"output": key, "outputs": outputs, "inputs": inputs, "state": state,
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    return key, [body]
