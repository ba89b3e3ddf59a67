"""The failed-operations JSON routes.

    GET  /api/failed-operations?range=7d&crm_source=..&sync_type=..&state=..&limit=500
    GET  /api/failed-operations/<id>             one operation with its attempts
    POST /api/failed-operations/<id>/retry       202 queued, 409 not retryable now
    POST /api/failed-operations/retry            bulk: {"ids": [...]} or {"filter": {"range": "7d", ...}}
    GET  /api/audit?limit=50

``at`` (ISO 8601) on the GETs: the operations as of that moment (``payloads.failed.operations_json_at``).

The window is ``range`` (24h, 7d default, 30d, 90d, all) or ``start``/``end`` (ISO 8601); ``age``
(for range) and ``operation_type`` (for sync_type) are deprecated names, read for one release, in
the query string and in a bulk retry's filter alike.

Actions need an operator: the session cookie of a signed-in user, the proxy's header, or HTTP Basic
credentials from the users file (rate-limited like the sign-in form). 401 without, 403 for a
viewer or when no users are configured.
"""

from __future__ import annotations

from flask import abort, jsonify, request

from dashapp import display, runtime
from dashapp.auth import disclosure
from dashapp.auth import users as auth
from dashapp.errors import BadParameter
from dashapp.payloads import failed as failed_payloads
from dashapp.payloads import params
from dashapp.retries import action as retry_action
from dashapp.web import auth_routes
from dashapp.web.api.actions import answer, user
from dashapp.web.api.params import int_param
from queries import failed_operations as queries
from queries.clock import utc_now


def _at():
    return params.at(request.args.to_dict(flat=False), utc_now())


def list_operations():
    settings = runtime.settings()
    args = request.args.to_dict(flat=False)
    now = utc_now()
    at = params.at(args, now)
    f = failed_payloads.operation_filter(args, now, at)
    limit = int_param("limit", 500, 1, queries.MAX_LIMIT)
    if at is not None:
        return jsonify(failed_payloads.operations_json_at(runtime.engine(), f, at, limit, settings.retry_max_attempts,
                                                          details=disclosure.may_see_details()))
    return jsonify(failed_payloads.operations_json(runtime.engine(), f, limit, settings.retry_max_attempts,
                                                   details=disclosure.may_see_details()))


def _one(sync_id: int) -> dict | None:
    return failed_payloads.operation_json(runtime.engine(), sync_id, runtime.settings().retry_max_attempts,
                                          details=disclosure.may_see_details())


def one_operation(sync_id: int):
    at = _at()
    if at is not None:
        operation = failed_payloads.operation_json_at(runtime.engine(), sync_id, at,
                                                      runtime.settings().retry_max_attempts,
                                                      details=disclosure.may_see_details())
        if operation is None:
            return jsonify({"error": f"id: no run {sync_id} had failed by {at:%Y-%m-%d %H:%M:%S} UTC"}), 404
        return jsonify({**operation, "attempts_list": failed_payloads.attempts_at_json(runtime.engine(), sync_id, at),
                        "as_of": display.iso_utc(at), "as_of_note": failed_payloads.AS_OF_NOTE})
    operation = _one(sync_id)
    if operation is None:
        return jsonify({"error": f"id: no failed or partial run {sync_id}"}), 404
    return jsonify({**operation, "attempts_list": failed_payloads.attempts_json(runtime.engine(), sync_id)})


def retry_one(sync_id: int):
    if auth_routes.cross_site():
        abort(403)
    outcome = retry_action.retry(runtime.settings(), runtime.engine(), user(), [sync_id], f"operation {sync_id}",
                                 "api")
    if outcome.result is not None and not outcome.result.queued and not outcome.result.error:
        why = outcome.result.skipped.get(sync_id, "not retryable")
        status = 404 if why == "not a failed run" else 409
        return jsonify({**outcome.result.as_json(), "error": f"operation {sync_id}: {why}",
                        "operation": _one(sync_id)}), status
    return answer(outcome)


def retry_bulk():
    if auth_routes.cross_site():
        abort(403)
    settings = runtime.settings()
    who = user()  # who is asking, before the body is read: a refused caller costs no parsing
    if auth.refusal(settings, who) is not None:
        return answer(retry_action.retry(settings, runtime.engine(), who, [], "bulk retry (body not read)", "api"))
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or ("ids" in body) == ("filter" in body):
        raise BadParameter("body", 'send JSON with either "ids": [1, 2] or "filter": {"crm_source": [...], ...}')
    if "ids" in body:
        ids = body["ids"]
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63
                                               for i in ids):
            raise BadParameter("ids", "must be a list of positive whole numbers")
        if len(ids) > settings.retry_bulk_limit:
            raise BadParameter("ids", f"at most {settings.retry_bulk_limit:,} ids at once (RETRY_BULK_LIMIT)")
        target = failed_payloads.describe_ids(ids)
    else:
        f = failed_payloads.operation_filter(failed_payloads.filter_args(body["filter"]), utc_now())
        failed_only = failed_payloads.retryable(f)
        ids = [] if failed_only is None else queries.matching_ids(runtime.engine(), failed_only,
                                                                  settings.retry_bulk_limit + 1)
        target = "filter " + failed_payloads.describe(f)
    return answer(retry_action.retry(settings, runtime.engine(), who, ids, target, "api"))


def audit_rows():
    """Operators only: the audit names every user and their role."""
    refused = auth.refusal(runtime.settings(), user(), "read the audit log")
    if refused is not None:
        return answer(retry_action.ActionOutcome(refused.status, refused.message))
    engine = runtime.engine()
    at = _at()
    note = {} if queries.has_app_tables(engine) else {"note": failed_payloads.READ_ONLY_NOTE}
    rows = failed_payloads.audit_json(engine, int_param("limit", 50, 1, 1000))
    if at is not None:  # the newest entries, those made by then (fewer than limit when later ones exist)
        rows = [row for row in rows if row["at"] is not None and display.from_iso(row["at"]) <= at]
        note["as_of"] = display.iso_utc(at)
    return jsonify({"audit": rows, **note})
