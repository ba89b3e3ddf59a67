"""The numbers behind the API page, as /api/api-stats, /api/rate-limits and /api/circuit-breakers
serve them and the page renders them."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Engine

from dashapp import display
from dashapp.payloads import windows
from dashapp.payloads.params import Window
from dashapp.payloads.result_cache import shared
from queries import crm_api_usage

NOT_MIGRATED = "the app's own tables do not exist yet: run `python app.py db upgrade`"
WARN_PERCENT, CRITICAL_PERCENT = 80.0, 95.0
PAST_HOUR = Window("1h", None)  # the overview's rate-limit card (``windows.OWN_SPANS``)
MINUTE_BUCKETS_UP_TO = timedelta(hours=2)  # the calls' series per minute up to this window, else per hour


def _number(value) -> float | None:
    return None if value is None or value != value else round(float(value), 3)


def level(percent_used: float | None) -> str:
    if percent_used is None:
        return "unknown"
    return "critical" if percent_used >= CRITICAL_PERCENT else "warning" if percent_used >= WARN_PERCENT else "ok"


def _bounds(engine: Engine, window: Window, now: datetime, migrated: bool) -> tuple[datetime, datetime]:
    """(start, end) of ``window`` at ``now`` (``windows.bounds``; ``all`` from the first call's or
    breaker transition's day)."""
    return windows.bounds(window, now, partial(crm_api_usage.first_record, engine) if migrated else _none)


def _none(_low: datetime, _high: datetime) -> None:
    return None


def _scope(engine: Engine, window: Window, now: datetime) -> tuple[datetime, datetime, dict, bool]:
    """The window's (start, end), the JSON that names it, and whether the app's tables exist."""
    migrated = crm_api_usage.migrated(engine)
    start, end = _bounds(engine, window, now, migrated)
    return start, end, {"range": window.range, "start": display.iso_utc(start), "end": display.iso_utc(end)}, migrated


@windows.keyed
@shared("api_stats")
def api_stats(engine: Engine, window: Window, now: datetime) -> dict:
    start, end, base, migrated = _scope(engine, window, now)
    if not migrated:
        return {**base, "endpoints": [], "series": [], "note": NOT_MIGRATED}
    stats = crm_api_usage.call_stats(engine, start, end)
    size = "minute" if end - start <= MINUTE_BUCKETS_UP_TO else "hour"
    series = crm_api_usage.call_series(engine, start, end, size)
    width = timedelta(minutes=1) if size == "minute" else timedelta(hours=1)
    still_filling = display.iso_utc(now - width)  # a bucket that starts after this has not ended yet
    buckets = display.iso_utc_all(series["bucket"])
    return {
        **base,
        "bucket_seconds": int(width.total_seconds()),
        "endpoints": [{
            "crm_source": r["crm_source"], "name": display.crm_name(r["crm_source"]), "endpoint": r["endpoint"],
            "calls": int(r["calls"]), "successes": int(r["successes"]), "client_errors": int(r["client_errors"]),
            "server_errors": int(r["server_errors"]), "no_response": int(r["no_response"]),
            "error_rate": _number(r["error_rate"]), "retries": int(r["retries"]), "avg_ms": _number(r["avg_ms"]),
            "p50_ms": _number(r["p50_ms"]), "p95_ms": _number(r["p95_ms"]), "p99_ms": _number(r["p99_ms"]),
        } for r in stats.to_dict("records")],
        "series": [{  # column by column: a 30-day window has thousands of rows
            "bucket": bucket, "crm_source": crm, "calls": int(calls), "failures": int(failures),
            "avg_ms": _number(avg), "partial": bucket > still_filling,
        } for bucket, crm, calls, failures, avg in zip(
            buckets, series["crm_source"].tolist(), series["calls"].tolist(),
            series["failures"].tolist(), series["avg_ms"].tolist(), strict=True)],
    }


@windows.keyed
@shared("rate_limits")
def rate_limit_list(engine: Engine, window: Window, now: datetime) -> dict:
    start, end, base, migrated = _scope(engine, window, now)
    if not migrated:
        return {**base, "limits": [], "history": [], "note": NOT_MIGRATED}
    frame = crm_api_usage.rate_limits(engine, start, end)
    limits = [{
        "crm_source": r["crm_source"], "name": display.crm_name(r["crm_source"]), "endpoint": r["endpoint"],
        "limit": None if r["rate_limit"] is None or r["rate_limit"] != r["rate_limit"] else int(r["rate_limit"]),
        "remaining": None if r["remaining"] is None or r["remaining"] != r["remaining"] else int(r["remaining"]),
        "percent_used": _number(r["percent_used"]), "level": level(_number(r["percent_used"])),
        "reset_at": display.iso_utc(r["reset_at"]), "seen_at": display.iso_utc(r["seen_at"]),
        "throttled": int(r["throttled"]), "in_window": in_window(r["reset_at"], now),
    } for r in frame.to_dict("records")]
    history = crm_api_usage.remaining_series(engine, start, end)
    return {
        **base,
        "limits": sorted(limits, key=lambda x: (not x["in_window"], -(x["percent_used"] or -1))),
        "history": [{"at": at, "crm_source": crm, "endpoint": endpoint, "remaining": int(remaining)}
                    for at, crm, endpoint, remaining in zip(
                        display.iso_utc_all(history["period"]), history["crm_source"], history["endpoint"],
                        history["remaining_min"], strict=True)],
    }


@windows.keyed
@shared("circuit_breakers")
def breaker_list(engine: Engine, window: Window, now: datetime) -> dict:
    start, end, base, migrated = _scope(engine, window, now)
    if not migrated:
        return {**base, "breakers": [], "note": NOT_MIGRATED}
    summaries = crm_api_usage.breaker_summary(crm_api_usage.breaker_states(engine, start, end), start, end)
    return {**base, "breakers": [{
        "breaker": s["breaker"], "crm_source": s["crm_source"], "name": display.crm_name(s["crm_source"]),
        "state": s["state"], "failure_count": s["failure_count"],
        "last_transition": display.iso_utc(s["last_transition"]), "last_reason": s["last_reason"],
        "open_seconds": s["open_seconds"],
        "transitions": [{"at": display.iso_utc(t["occurred_at"]), "from": t["from_state"], "to": t["to_state"],
                         "failure_count": int(t["failure_count"]), "reason": t["reason"]} for t in s["transitions"]],
    } for s in summaries]}


def in_window(reset_at: object, now: datetime) -> bool:
    """The reading still counts: its window has not reset (a reading with no reset time counts)."""
    reset = display.iso_utc(reset_at)
    return reset is None or reset > display.iso_utc(now)


def tightest(limits: dict) -> dict | None:
    """The rate limit closest to exhaustion among those still in their window, for the overview's
    card: a limit read at 100% whose window has since reset is not a limit any more."""
    known = [x for x in limits.get("limits", []) if x["percent_used"] is not None and x.get("in_window", True)]
    return max(known, key=lambda x: x["percent_used"]) if known else None
