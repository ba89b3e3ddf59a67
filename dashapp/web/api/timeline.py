"""``GET /api/timeline?range=24h&kind=incident_started,alert_fired&crm_source=&sync_type=&limit=200&offset=0``:
incidents, late spans, alerts, breakers, 429 bursts, retries and health changes in a window of at most
31 days, newest first, paged (``dashapp.payloads.timeline``); a bad value is a 400 naming it."""

from __future__ import annotations

from flask import jsonify, request

from dashapp import runtime
from dashapp.payloads import timeline as timeline_payloads
from queries.clock import utc_now


def timeline():
    f = timeline_payloads.timeline_filter(request.args.to_dict(flat=False), utc_now())
    return jsonify(timeline_payloads.timeline_json(runtime.engine(), f))
