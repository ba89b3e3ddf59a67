"""Checks every request passes before any view or Dash callback reads it, in one ``before_request``:

- a state-changing request (POST, PUT, PATCH, DELETE) from another site's page is a 403: its
  ``Origin`` names another host (or is ``null``), or, without an Origin, the browser's
  ``Sec-Fetch-Site`` says ``cross-site``. This covers the JSON API, the sign-in form and Dash's
  ``/_dash-update-component`` alike (API clients such as curl send neither header);
- a body over MAX_REQUEST_BYTES is a 413 (``MAX_CONTENT_LENGTH``, every route), over
  ``SMALL_BODY_BYTES`` on the JSON API and the sign-in form: by its Content-Length, and a chunked
  body (no Content-Length) by reading it here through a stream limited to one byte more than the
  path's limit (``request.max_content_length``), so more than that is never read;
- a JSON body that is not JSON, or nests deeper than ``MAX_JSON_DEPTH``, is a 400 naming ``body``,
  before anything recursive (the parser included) can exhaust the stack. The parsed body is
  Flask's cached one, so Dash and the routes do not parse it again;
- a Dash callback request that is not shaped like one of this app's callbacks is a 400 naming the
  part (``dashapp.web.dash_request``).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import dash
from flask import Flask, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from dashapp.config import Settings
from dashapp.web import dash_request

log = logging.getLogger(__name__)
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SMALL_BODY_BYTES = 64 * 1024  # the API's action bodies and the sign-in form
SMALL_BODY_PATHS = ("/api/", "/auth/")
MAX_JSON_DEPTH = 32
DASH_CALLBACKS = "/_dash-update-component"


def cross_site() -> bool:
    """True when the request comes from another site's page."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.strip() == "null" or urlsplit(origin.strip()).netloc.lower() != request.host.lower()
    return request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site"


def json_depth(value: object, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply ``value`` nests lists and objects (iteratively; stops counting past ``limit``)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _refuse(status: int, message: str):
    return jsonify({"error": message}), status


def guard():
    """The before_request check; a response when the request is refused, else None."""
    if request.method not in STATE_CHANGING:
        return None
    if cross_site():
        return _refuse(403, "origin: requests from another site's page are refused")
    if request.path.startswith(SMALL_BODY_PATHS):  # before the stream is opened: a chunked body obeys it too
        request.max_content_length = min(SMALL_BODY_BYTES, request.max_content_length or SMALL_BODY_BYTES)
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        return _refuse(413, f"body: larger than {limit:,} bytes")
    if limit is not None and request.content_length is None:
        # a chunked body: read here, at most one byte more than the limit (werkzeug's limited
        # stream stops at its limit without a word), and kept for the view and Dash
        request.max_content_length = limit + 1
        try:
            data = request.get_data(cache=True)
        finally:
            request.max_content_length = limit
        if len(data) > limit:
            return _refuse(413, f"body: larger than {limit:,} bytes")
    if request.is_json:
        try:
            body = request.get_json(silent=False)
        except RecursionError:
            return _refuse(400, f"body: nested deeper than {MAX_JSON_DEPTH} levels")
        except BadRequest:
            return _refuse(400, "body: not valid JSON")
        if json_depth(body) > MAX_JSON_DEPTH:
            return _refuse(400, f"body: nested deeper than {MAX_JSON_DEPTH} levels")
    if request.path == DASH_CALLBACKS:
        wrong = dash_request.problem(request.get_json(silent=True), dash.get_app().callback_map)
        if wrong is not None:
            return _refuse(400, wrong)
    return None


def configure(server: Flask, settings: Settings) -> None:
    server.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    server.before_request_funcs.setdefault(None, []).insert(0, guard)  # before every other check

    @server.errorhandler(Exception)
    def _callback_failed(exc: Exception):
        """A Dash callback that raised on the values it was sent: the renderer sends what the app's
        own components hold, so this is a crafted request; a 400 (logged with its traceback), not
        a 500. Anywhere else an unexpected error stays a 500."""
        if isinstance(exc, HTTPException):
            return exc
        if request.path != DASH_CALLBACKS:
            raise exc
        body = request.get_json(silent=True)
        output = body.get("output") if isinstance(body, dict) else None
        log.warning("callback %s could not use the values it was sent", str(output)[:200], exc_info=exc)
        return _refuse(400, "inputs: the callback could not use these values")

    @server.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        limit = request.max_content_length or server.config["MAX_CONTENT_LENGTH"]
        return _refuse(413, f"body: larger than {limit:,} bytes")
