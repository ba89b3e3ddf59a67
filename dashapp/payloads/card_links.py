"""Where each overview card leads: the history filtered to exactly the runs its number counts
(``queries.overview``: a status class, and for the 24-hour cards end_time in the window), and
the API page for the tightest limit. The window's start is the one the number was computed
with, to the microsecond, so the history's count equals the card's."""

from __future__ import annotations

from datetime import UTC, datetime

from dashapp.payloads import paths
from dashapp.payloads.runs import history_link as _history
from queries.overview import WINDOW


def card_links(now: datetime, at: datetime | None = None) -> dict[str, str]:
    """Card key -> link, for the numbers computed at ``now``; ``at``: the page shows that past
    moment, and each link keeps it (``paths.with_at``)."""
    since = (now - WINDOW).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    links = {
        "active": _history(status=["running"]),
        "completed": _history(status=["success"], ended_after=since),
        "failed": _history(status=["failed"], ended_after=since),
        "partial": _history(status=["partial"], ended_after=since),
        "success-rate": _history(status=["success", "failed"], ended_after=since),
        "tightest-limit": paths.href("/api-usage"),
    }
    return {key: paths.with_at(link, at) for key, link in links.items()}
