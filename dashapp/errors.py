"""The errors every layer raises or shows: a bad parameter (``queries._sql.BadParameter``, the one
typed error, answered with a 400 naming it by ``dashapp.web.http_errors``) and the first line of a
database error."""

from __future__ import annotations

from queries._sql import BadParameter

__all__ = ["BadParameter", "error_line"]


def error_line(exc: BaseException) -> str:
    """The first line of a database error, the driver's own words where there are some."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
