"""A message that may arrive cut (``queries.messages``): its text, and when cut, its full length
("… 1,048,576 characters") and a "show all" control. The control fetches the whole message from
``GET /api/runs/<id>/error`` a chunk at a time (assets/long-messages.js) and puts it into the
same element as text, never as markup."""

from __future__ import annotations

from dash import html


def length_note(length: int) -> str:
    return f"… {length:,} characters"


def long_message(text: str | None, length: int | None, truncated: bool, run_id: int,
                 source: str = "error_message", *, class_name: str = "", element_id: str | None = None,
                 style: dict | None = None) -> html.Div:
    """``text`` in a <pre>; when ``truncated``, the length note and a "show all" button that reads
    the message ``source`` (``error_message``, ``last_error``) of run ``run_id``."""
    pre = html.Pre(text or "—", className=class_name, style=style or {},
                   **({"id": element_id} if element_id else {}))
    if not truncated or length is None:
        return html.Div(pre, className="long-message")
    return html.Div([
        pre,
        html.Div([
            html.Span(length_note(length), className="long-message-note text-muted me-2"),
            html.Button("show all", type="button", className="btn btn-link btn-sm p-0 align-baseline show-all-message",
                        **{"data-run-id": str(int(run_id)), "data-source": source}),
        ], className="small mb-1"),
    ], className="long-message")


def cell_text(text: str | None, length: int | None, truncated: bool) -> str | None:
    """A grid cell's text: the cut message with its full length after it."""
    if text is None or not truncated or length is None:
        return text
    return f"{text} {length_note(length)}"
