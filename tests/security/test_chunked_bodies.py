"""A chunked body (Transfer-Encoding: chunked, no Content-Length) obeys the size
limits like any other: 64 KiB on the sign-in form and the JSON API, MAX_REQUEST_BYTES on Dash's
callbacks, read through a stream limited to the path's limit, against real gunicorn."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
from urllib.parse import urlencode, urlsplit

import pytest

from tests.conftest import empty_app_tables
from tests.security.conftest import PASSWORD
from tests.support.gunicorn_server import gunicorn

CHUNK = 16 * 1024
BASIC = {"Authorization": "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()}


def chunked(url: str, path: str, body: bytes, content_type: str, headers: dict[str, str] | None = None):
    """POST ``body`` in 16 KiB chunks (no Content-Length); the status and the body answered. The
    server may answer and close before the whole body is sent: the answer is read all the same."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused before it was all sent
            conn.request("POST", path, body=(body[i:i + CHUNK] for i in range(0, len(body), CHUNK)),
                         headers={"Content-Type": content_type, **(headers or {})}, encode_chunked=True)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


@pytest.fixture
def served(pg_engine, postgres_url, users_file, tmp_path):
    empty_app_tables(pg_engine)
    with gunicorn({"DATABASE_URL": postgres_url, "AUTH_USERS_FILE": str(users_file)}, tmp_path) as url:
        yield url


@pytest.mark.slow
def test_chunked_bodies_obey_the_size_limits(served):
    big_form = urlencode({"username": "alice", "password": "x" * 1_900_000}).encode()
    status, body = chunked(served, "/auth/sign-in", big_form, "application/x-www-form-urlencoded")
    assert status == 413 and json.loads(body) == {"error": "body: larger than 65,536 bytes"}

    big_json = json.dumps({"ids": [1] * 950_000}).encode()  # 1.9 MB
    status, body = chunked(served, "/api/failed-operations/retry", big_json, "application/json", BASIC)
    assert status == 413 and json.loads(body) == {"error": "body: larger than 65,536 bytes"}

    huge_callback = json.dumps({"output": "x", "inputs": [{"value": "y" * 3_000_000}]}).encode()
    status, body = chunked(served, "/_dash-update-component", huge_callback, "application/json")
    assert status == 413 and json.loads(body) == {"error": "body: larger than 2,097,152 bytes"}


@pytest.mark.slow
def test_a_small_chunked_body_is_read(served):
    form = urlencode({"username": "alice", "password": PASSWORD, "next": "/failed"}).encode()
    status, _ = chunked(served, "/auth/sign-in", form, "application/x-www-form-urlencoded")
    assert status == 303  # signed in: the form was read whole
    wrong = json.dumps({"ids": ["x"]}).encode()
    status, body = chunked(served, "/api/failed-operations/retry", wrong, "application/json", BASIC)
    assert status == 400 and json.loads(body)["error"].startswith("ids")
