"""Links the app writes (in pages and in JSON) as browsers request them: under URL_PREFIX."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from dashapp import display
from dashapp.runtime import href

__all__ = ["href", "history", "run", "with_at"]


def history(search: str = "") -> str:
    """The history page with ``search`` (``?...`` or empty)."""
    return href("/history" + search)


def run(run_id: object) -> str:
    """A run's page."""
    return href(f"/runs/{run_id}")


def with_at(link: str, at: datetime | None) -> str:
    """``link`` keeping a view's ``at`` (a page shown as of a moment links to pages as of it too);
    unchanged when live (``at`` None) or when the link names its own ``at``."""
    if at is None or "?at=" in link or "&at=" in link:
        return link
    path, hash_mark, fragment = link.partition("#")
    joiner = "&" if "?" in path else "?"
    return f"{path}{joiner}at={quote(display.iso_utc(at) or '', safe=':')}{hash_mark}{fragment}"
