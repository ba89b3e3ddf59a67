"""``GET /api/runs/<id>``: one run with its API calls, breaker transitions, alerts, failed
operation, previous runs and expected duration (``dashapp.payloads.runs``). 400 for an id that is
not a whole number, 404 for no such run."""

from __future__ import annotations

from flask import jsonify

from dashapp import runtime
from dashapp.payloads import runs as run_payloads
from queries._sql import utc_now

MAX_ID = 2**63 - 1


def parse_run_id(raw: str) -> int | None:
    """A run id from a URL: a whole number 1 .. 2^63-1, else None."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def one_run(raw_id: str):
    run_id = parse_run_id(raw_id)
    if run_id is None:
        return jsonify({"error": f"id: {raw_id[:40]!r} is not a run id (a whole number from 1)"}), 400
    settings = runtime.settings()
    page = run_payloads.run_page(runtime.engine(), run_id, utc_now(), settings.retry_max_attempts)
    if page is None:
        return jsonify({"error": f"id: no run {run_id}"}), 404
    return jsonify(page)
