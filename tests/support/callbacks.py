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


def history_grid_body(dash_app, request: dict, crm_sources: list | None = None) -> dict:
    """The body the history grid sends for rows ``request`` ({startRow, endRow, ...}) with every
    filter empty but the CRMs."""
    _, (body,) = callback_body(
        dash_app, "history-grid.getRowsResponse",
        [{"id": "history-grid", "property": "getRowsRequest", "value": request}],
        [*({"id": name, "property": "value", "value": value} for name, value in (
            ("history-range", "all"), ("history-start", None), ("history-end", None),
            ("history-crm-source", crm_sources or []), ("history-status", []), ("history-sync-type", []),
            ("history-error-search", ""))),
         {"id": "viewer-timezone", "property": "data", "value": "UTC"},
         {"id": "history-ended-after", "property": "data", "value": None},
         {"id": "history-times", "property": "data", "value": None},
         {"id": "_pages_location", "property": "search", "value": ""}])  # live: no at
    return body


def call(client, dash_app, output_part: str, values: dict | None = None) -> dict:
    """Call the callback whose output key contains ``output_part`` as the renderer would, its
    inputs and state holding ``values`` (by component id; None otherwise); the response's props."""
    if not any(output_part in k for k in dash_app.callback_map):
        assert client.get("/_dash-dependencies").status_code == 200  # Dash registers callbacks on first use
    key, spec = next((k, v) for k, v in dash_app.callback_map.items() if output_part in k)
    values = values or {}
    inputs = [{**i, "value": values.get(i["id"])} for i in spec["inputs"]]
    state = [{**s, "value": values.get(s["id"])} for s in spec.get("state") or []]
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in key.strip(".").split("...")]
    # as the renderer sends them: a list for a callback of several outputs ("..a.b...c.d.."), else the one
    body = {"output": key, "outputs": outputs if key.startswith("..") else outputs[0], "inputs": inputs, "state": state,
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return answer.json["response"]
