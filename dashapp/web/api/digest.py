"""``GET /api/digest?day=YYYY-MM-DD``: the morning digest's summary (``dashapp.payloads.digest``) of a
local day (DISPLAY_TIMEZONE; the 24 hours ending the next day at DIGEST_AT, or midnight), or of the
24 hours ending now without ``day``; a bad day is a 400 naming it."""

from __future__ import annotations

from flask import jsonify, request

from dashapp import runtime
from dashapp.payloads import digest as digest_payloads
from queries.clock import utc_now


def digest():
    return jsonify(digest_payloads.digest_json(runtime.engine(), runtime.settings(),
                                               request.args.to_dict(flat=False), utc_now()))
