"""``GET /api/timeline/lanes?range=24h&crm_source=&sync_type=&kind=&lane_limit=40&lane_offset=0``: the
timeline's swimlanes (``dashapp.payloads.timeline_lanes``): a page of CRM lanes with their runs as
bars, the incident and late spans, and the other events as points; a bad value is a 400 naming it."""

from __future__ import annotations

from flask import jsonify, request

from dashapp import runtime
from dashapp.payloads import params
from dashapp.payloads import timeline_lanes as lane_payloads
from queries.clock import utc_now


def timeline_lanes():
    args = request.args.to_dict(flat=False)
    now = params.viewing(args, utc_now())  # as of ``at``: a run still running then is drawn up to it
    f = lane_payloads.lane_filter(args, now)
    return jsonify(lane_payloads.lanes_json(runtime.engine(), f, now))
