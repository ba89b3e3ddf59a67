"""Errors as the JSON routes answer them: a bad parameter is a 400 naming it, a database that
cannot answer is a 503 with its error; never a 500 with a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from dashapp.errors import BadParameter, error_line
from queries.bad_parameter import FilterError

log = logging.getLogger(__name__)


def _nul_in(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_nul_in(k) or _nul_in(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_nul_in(v) for v in value)
    return False


def refuse_nul_characters() -> None:
    """Before an API, export or sign-in request: a NUL character in a parameter, a form field or
    the JSON body (PostgreSQL text cannot hold one) is a 400 naming where it was."""
    if not request.path.startswith(("/api/", "/export/", "/auth/")):
        return None
    for name, value in [*request.args.items(multi=True), *request.form.items(multi=True)]:
        if "\x00" in name or "\x00" in value:
            raise BadParameter(name.replace("\x00", "\\x00")[:40], "contains a NUL character")
    if request.is_json and _nul_in(request.get_json(silent=True)):
        raise BadParameter("body", "contains a NUL character")
    return None


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _api_methods(path: str) -> list[str]:
    """The methods some ``/api/`` route answers on ``path`` (Dash's page catch-all aside)."""
    adapter = current_app.url_map.bind_to_environ(request)  # the WSGI request, not os.environ
    found = []
    for method in METHODS:
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.rule.startswith("/api/"):
            found.append(method)
    return found


def unknown_api_path():
    """``/api/...`` that no API route matches would fall through to Dash's page catch-all (an HTML
    page, 200): it is a JSON 404 naming the path instead, or a JSON 405 when another method fits."""
    if not request.path.startswith("/api/"):
        return None
    if request.url_rule is not None and request.url_rule.rule.startswith("/api/"):
        return None
    allowed = _api_methods(request.path)
    if allowed:
        return jsonify({"error": f"{request.method} is not allowed on {request.path[:200]}; "
                                 f"use {', '.join(allowed)}"}), 405
    return jsonify({"error": f"no such API route: {request.path[:200]}"}), 404


def register(server: Flask) -> None:
    server.before_request(unknown_api_path)
    server.before_request(refuse_nul_characters)

    @server.errorhandler(BadParameter)
    def bad_parameter(exc: BadParameter):
        return jsonify({"error": str(exc), "parameter": exc.name}), 400

    @server.errorhandler(FilterError)
    def bad_filter(exc: FilterError):  # its message starts with the parameter: "sort: ..."
        return jsonify({"error": str(exc), "parameter": exc.name}), 400

    @server.errorhandler(SQLAlchemyError)
    def database_error(exc: SQLAlchemyError):
        log.warning("database error in a request: %s", error_line(exc))
        from dashapp.auth.disclosure import DATABASE_UNAVAILABLE, shown_error  # here: disclosure imports this module

        shown = shown_error(exc)
        return jsonify({"error": shown if shown == DATABASE_UNAVAILABLE else f"{DATABASE_UNAVAILABLE}: {shown}"}), 503
