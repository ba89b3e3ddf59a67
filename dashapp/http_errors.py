"""Errors as the JSON routes answer them: a bad parameter is a 400 naming it, a database that
cannot answer is a 503 with its error; never a 500 with a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import SQLAlchemyError

from queries.history import FilterError

log = logging.getLogger(__name__)


class BadParameter(ValueError):
    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"{name}: {problem}")


def error_line(exc: BaseException) -> str:
    """The first line of a database error, the driver's own words where there are some."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def register(server: Flask) -> None:
    @server.errorhandler(BadParameter)
    def bad_parameter(exc: BadParameter):
        return jsonify({"error": str(exc)}), 400

    @server.errorhandler(FilterError)
    def bad_filter(exc: FilterError):  # its message starts with the parameter: "sort: ..."
        return jsonify({"error": str(exc)}), 400

    @server.errorhandler(SQLAlchemyError)
    def database_error(exc: SQLAlchemyError):
        log.warning("database error in a request: %s", error_line(exc))
        return jsonify({"error": f"database unavailable: {error_line(exc)}"}), 503
