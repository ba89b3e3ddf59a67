"""The errors every layer raises or shows: a bad parameter (a 400 naming it, see
``dashapp.web.http_errors``) and the first line of a database error."""

from __future__ import annotations


class BadParameter(ValueError):
    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"{name}: {problem}")


def error_line(exc: BaseException) -> str:
    """The first line of a database error, the driver's own words where there are some."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
