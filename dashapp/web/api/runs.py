"""``GET /api/runs/<id>``: one run with its API calls, breaker transitions, alerts, failed
operation, previous runs and expected duration (``dashapp.payloads.runs``). 400 for an id that is
not a whole number, 404 for no such run. ``at`` (ISO 8601): the run as of that moment
(``payloads.runs``: running then if it ended later; calls, breakers, alerts by then); 404 for a
run not started by then.

``GET /api/runs/<id>/error?offset=0``: the run's whole error message, a chunk at a time (the
pages' "show all"; ``queries.messages``); ``source=last_error``: its failed operation's latest
retry error. Read by anyone who may read the run (as ``/api/runs/<id>``); a retry the broker did
not take says so in its class ("not queued: the broker could not be reached") to anyone but an
operator, in both. ``at``: as of that moment (a run that ended after it has no message yet).
"""

from __future__ import annotations

import json

from flask import Response, jsonify, request

from dashapp import runtime
from dashapp.auth import disclosure
from dashapp.auth.failure_classes import is_broker_refusal, retry_error
from dashapp.errors import BadParameter
from dashapp.payloads import params
from dashapp.payloads import runs as run_payloads
from dashapp.web.api.params import int_param
from queries import messages, run_detail
from queries.clock import utc_now
from queries.failed_operations import has_app_tables

MAX_ID = 2**63 - 1
MAX_OFFSET = 2**31 - 1  # characters: past any text PostgreSQL holds (1 GB)


def parse_run_id(raw: str) -> int | None:
    """A run id from a URL: a whole number 1 .. 2^63-1, else None."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def _bad_id(raw_id: str):
    return jsonify({"error": f"id: {raw_id[:40]!r} is not a run id (a whole number from 1)"}), 400


def one_run(raw_id: str):
    run_id = parse_run_id(raw_id)
    if run_id is None:
        return _bad_id(raw_id)
    settings = runtime.settings()
    now = utc_now()
    at = params.at(request.args.to_dict(flat=False), now)
    page = run_payloads.run_page(runtime.engine(), run_id, at or now, settings.retry_max_attempts,
                                 details=disclosure.may_see_details(), as_of=at is not None)
    if page is None:
        if at is not None:
            return jsonify({"error": f"id: no run {run_id} had started by {at:%Y-%m-%d %H:%M:%S} UTC"}), 404
        return jsonify({"error": f"id: no run {run_id}"}), 404
    return jsonify(page)


def _public_last_error(engine, run_id: int, chunk: messages.Chunk) -> messages.Chunk:
    """A broker's refusal (infrastructure) as its class for anyone but an operator: the whole
    class at offset 0, nothing after (``payloads.failed.last_error_fields`` shows the same)."""
    head = chunk if chunk.offset == 0 else messages.message_chunk(engine, run_id, "last_error", 0, 200)
    if head is None or not is_broker_refusal(head.text):
        return chunk
    public = retry_error(head.text, False) or ""
    text = public if chunk.offset == 0 else ""
    return messages.Chunk(text, chunk.offset, len(public), None)


def _ended_after(engine, run_id: int, at) -> bool:
    """Whether the run ended after ``at`` (it was running then: ``payloads.runs.row_at``)."""
    row = run_detail.run_row(engine, run_id)
    return row is not None and run_payloads.row_at(row, at) is not row


def run_error(raw_id: str):
    """A chunk of the run's whole message as JSON text (UTF-8, not \\u-escaped: a chunk of
    ``messages.CHUNK`` characters stays under 500 KB), with the full length and the next offset."""
    run_id = parse_run_id(raw_id)
    if run_id is None:
        return _bad_id(raw_id)
    at = params.at(request.args.to_dict(flat=False), utc_now())
    source = request.args.get("source") or "error_message"
    if source not in messages.SOURCES:
        raise BadParameter("source", f"{source[:40]!r} is not one of {', '.join(messages.SOURCES)}")
    offset = int_param("offset", 0, 0, MAX_OFFSET)
    engine = runtime.engine()
    if source == "last_error" and not has_app_tables(engine):
        return jsonify({"error": f"id: no failed operation {run_id} (the app's tables do not exist yet)"}), 404
    chunk = messages.message_chunk(engine, run_id, source, offset)
    if chunk is None:
        what = "run" if source == "error_message" else "failed operation"
        return jsonify({"error": f"id: no {what} {run_id}"}), 404
    if source == "last_error" and not disclosure.may_see_details():
        chunk = _public_last_error(engine, run_id, chunk)
    if at is not None and source == "error_message" and _ended_after(engine, run_id, at):
        chunk = messages.Chunk("", 0, 0, None)  # running then: no error message yet
    body = {"id": run_id, "source": source, "offset": chunk.offset, "text": chunk.text,
            "message_length": chunk.length, "next_offset": chunk.next_offset}
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
