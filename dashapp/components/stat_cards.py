"""A row of number cards: a label, a big value, and a colour."""

from __future__ import annotations

from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import html


@dataclass(frozen=True)
class Stat:
    key: str  # a stable name, used in the card's id
    label: str
    value: str
    colour: str = "secondary"
    detail: str | None = None  # a small line under the value, truncated, full text on hover


def stat_cards(stats: list[Stat]) -> list[dbc.Col]:
    return [
        dbc.Col(
            dbc.Card(
                dbc.CardBody([
                    html.Div(stat.label, className="stat-label text-muted small"),
                    html.Div(stat.value, id=f"stat-{stat.key}", className=f"stat-value text-{stat.colour}"),
                    *([html.Div(stat.detail, title=stat.detail, className="small text-muted text-truncate",
                                id=f"stat-{stat.key}-detail")] if stat.detail else []),
                ]),
                className="h-100 shadow-sm",
            ),
            xs=6, md=4, xl=2, className="mb-3",
        )
        for stat in stats
    ]
