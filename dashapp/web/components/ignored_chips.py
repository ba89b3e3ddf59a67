"""A link's bad parameters, each shown as a dismissible chip ("ignored: status: 'bogus' is not a
status in sync_history") above a view that works on with the defaults. Never silently dropped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dash_bootstrap_components as dbc
from dash import html

from dashapp.errors import BadParameter
from dashapp.payloads.params import AT

MAX_CHIPS = 20  # a link with hundreds of bad parameters shows the first 20 and says how many more


def unknown_parameters(query: Mapping[str, object], allowed: Iterable[str]) -> list[BadParameter]:
    """Parameters a page does not read, each as a BadParameter; every page reads ``at`` (the moment
    it shows: ``params.AT``, checked where it is read)."""
    known = set(allowed) | {AT}
    return [BadParameter(str(name)[:40], "is not a parameter of this page") for name in query if name not in known]


def ignored_chips(problems: list[BadParameter], chip_id: str | None = None) -> html.Div:
    """One dismissible chip per problem; an empty Div when there are none."""
    chips = [
        dbc.Alert(f"ignored: {problem}", color="warning", dismissable=True,
                  className="ignored-chip small rounded-pill d-inline-block mb-1 me-1 py-1 ps-3")
        for problem in problems[:MAX_CHIPS]
    ]
    if len(problems) > MAX_CHIPS:
        chips.append(html.Span(f"and {len(problems) - MAX_CHIPS} more", className="small text-muted"))
    attributes = {"id": chip_id} if chip_id else {}
    return html.Div(chips, className="ignored-chips" if chips else "d-none", role="status", **attributes)
