"""A row of number cards: a label, a big value, and a colour."""

from __future__ import annotations

from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import dcc, html


@dataclass(frozen=True)
class Stat:
    key: str  # a stable name, used in the card's id
    label: str
    value: str
    colour: str = "secondary"
    detail: str | None = None  # small text under the value, wrapped (never cut), also on hover
    href: str | None = None  # where a click leads: the runs that make the number


def _linked(stat: Stat, card: dbc.Card):
    if not stat.href:
        return card
    return dcc.Link(card, href=stat.href, id=f"stat-{stat.key}-link", title=f"Open the runs behind {stat.label}",
                    className="stat-link d-block h-100 text-reset text-decoration-none")


def stat_cards(stats: list[Stat]) -> list[dbc.Col]:
    return [
        dbc.Col(_linked(stat,
            dbc.Card(
                dbc.CardBody([
                    html.Div(stat.label, className="stat-label text-muted small"),
                    html.Div(stat.value, id=f"stat-{stat.key}", className=f"stat-value text-{stat.colour}"),
                    *([html.Div(stat.detail, title=stat.detail, className="small text-muted stat-detail",
                                id=f"stat-{stat.key}-detail")] if stat.detail else []),
                ]),
                className="h-100 shadow-sm",
            )),
            xs=6, md=4, xl=2, className="mb-3",
        )
        for stat in stats
    ]
