"""The errors page's numbers, as ``/api/errors`` serves them and the page renders them: recent
failures, error classes (each with a link to its runs in the history) and failure rates per CRM.

From the run rollups for whole hours when they exist, else from ``queries.errors`` and
``queries.performance`` over the days not already in the closed-day cache (``day_cache.DAYS``).
As of a past moment (``as_of``): the window ends there and the runs are as they stood then
(``queries.as_of``: one that ended later is running, neither failed nor partial yet).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import Engine

from dashapp import display
from dashapp.payloads import params, paths, windows
from dashapp.payloads.day_cache import DAYS, window_frames
from dashapp.payloads.params import Window, to_search
from dashapp.payloads.result_cache import shared
from queries import errors, messages, performance, run_rollups


def errors_frames(engine: Engine, start: datetime, end: datetime, as_of: datetime | None = None) -> dict:
    """The errors page's DataFrames for the runs started in [start, end) (per calendar day, UTC),
    from the rollups for whole hours when they exist; ``as_of``: the runs as they stood then."""
    covered = run_rollups.ready(engine)
    if covered is not None:
        daily = run_rollups.daily_rows(engine, start, end, covered, by=("crm_source",), as_of=as_of)[0]
        return {"recent": errors.recent_failures(engine, 10, **({} if as_of is None else {"as_of": as_of})),
                "classes": errors.classes_from(run_rollups.error_messages(engine, start, end, covered, as_of)),
                "rates": errors.failure_rates_from(daily)}

    moment = {} if as_of is None else {"as_of": as_of}

    def compute(low: datetime, high: datetime) -> dict:
        return {"rollup": performance.daily_rollup(engine, low, high, **moment),
                "messages": errors.daily_messages(engine, low, high, **moment)}

    if as_of is not None:
        parts = compute(start, end)
    else:
        key = (engine.url.render_as_string(), engine.get_execution_options().get("sync_schema"), "errors")
        parts = window_frames(DAYS, key, start, end, compute, performance.data_zone(engine))
    return {
        "recent": errors.recent_failures(engine, 10, **moment),
        "classes": errors.classes_from(parts["messages"]),
        "rates": errors.failure_rates_from(parts["rollup"]),
    }


@windows.keyed
@shared("errors")
def errors_payload(engine: Engine, window: Window, now: datetime, as_of: bool = False) -> dict:
    """The JSON of /api/errors for the runs started in ``window`` (``windows.bounds``), shared between
    viewers; ``as_of``: ``now`` is a past moment shown (a view's ``at``)."""
    start, end = windows.bounds(window, now, partial(performance.first_start, engine))
    moment = now if as_of else None
    answer = errors_json(errors_frames(engine, start, end, moment), start, end, moment)
    return {"range": window.range, **answer}


def history_link(search: str, start: datetime, end: datetime, as_of: datetime | None = None) -> str:
    """The history filtered to the failed and partial runs whose message contains ``search`` in the
    window: the runs an error class counts (as of ``as_of`` when the page shows a past moment)."""
    return paths.history(to_search({"status": ["failed", "partial"], "q": search, "start": display.iso_utc(start),
                                    "end": display.iso_utc(end), "range": "all",
                                    params.AT: display.iso_utc(as_of)}))


def errors_json(frames: dict, start: datetime, end: datetime, as_of: datetime | None = None) -> dict:
    """The JSON of /api/errors and the records the errors page renders."""
    return {
        "recent_failures": [
            {"id": int(r["id"]), "crm_source": r["crm_source"], "name": display.crm_name(r["crm_source"]),
             "sync_type": r["sync_type"], "status": display.text(r["status"]),
             "status_class": display.text(r["status_class"]), "start_time": display.iso_utc(r["start_time"]),
             "end_time": display.iso_utc(r["end_time"]),
             **messages.fields("error_message", r["error_message"], r.get("error_message_length"))}
            for r in frames["recent"].to_dict("records")],
        "error_classes": [
            {"error_class": r["error_class"], "count": int(r["runs"]), "failed": int(r["failed"]),
             "partial": int(r["partial"]), "sample": r["sample"],
             "last_seen": display.iso_utc(r["last_seen"]),
             "history_link": history_link(r["search"], start, end, as_of)}
            for r in frames["classes"].to_dict("records")],
        "crm_failure_rates": [
            {"crm_source": r["crm_source"], "name": display.crm_name(r["crm_source"]), "finished": int(r["finished"]),
             "failed": int(r["failed"]), "partial": int(r["partial"]), "failure_rate": float(r["failure_rate"]),
             "partial_rate": float(r["partial_rate"])}
            for r in frames["rates"].to_dict("records")],
        "start": display.iso_utc(start),
        "end": display.iso_utc(end),
    }
