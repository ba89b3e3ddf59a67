"""The one typed error for a bad request value, raised by any layer that reads one and answered by
the web layer (``dashapp.web.http_errors``) with a 400 naming the parameter, by a page with a message."""

from __future__ import annotations


class BadParameter(ValueError):
    """A bad parameter (URL, export, API, grid model): ``name`` says which parameter and ``problem`` why."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")


class FilterError(BadParameter):
    """A filter or sort that cannot be applied, raised as ``FilterError("sort: why")``: a BadParameter
    named by the text before the first colon."""

    def __init__(self, message: str) -> None:
        name, _, problem = message.partition(": ")
        super().__init__(name, problem)
