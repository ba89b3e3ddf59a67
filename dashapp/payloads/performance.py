"""The performance page's numbers, as ``/api/performance-charts`` serves them and the page draws
them: run durations, records, success rates, runs per day and throughput per calendar day (UTC).

From the run rollups for whole hours when they exist (``queries.run_rollups``), else from
``queries.performance`` over the days not already in the closed-day cache (``day_cache.DAYS``).

As of a past moment (``as_of``, a view's ``at``): the window ends there (its day's "today so far"
is that moment's day), the runs are as they stood then (``queries.as_of``: one that ended later
is running, in no finished count), hours the rollups would count differently and the partial
hour up to the moment come from the raw table, and the closed-day cache is not used.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

import pandas as pd
from sqlalchemy import Engine

from dashapp import display
from dashapp.payloads import windows
from dashapp.payloads.day_cache import DAYS, window_frames
from dashapp.payloads.params import Window
from dashapp.payloads.result_cache import shared
from queries import performance, run_rollups
from queries.outcomes import SUCCESS_RATE_HELP


def performance_frames(engine: Engine, start: datetime, end: datetime, crm_sources=(), sync_types=(),
                       as_of: datetime | None = None) -> dict:
    """The performance page's DataFrames for the runs started in [start, end), per calendar day
    (UTC) it touches: from the run rollups for whole hours and the raw table for the open edges
    when they exist (``queries.run_rollups``), else two SQL statements over the days not already
    in the closed-day cache. ``as_of``: the runs as they stood then (no day cache)."""
    selection = (tuple(sorted(crm_sources)), tuple(sorted(sync_types)))
    covered = run_rollups.ready(engine)
    if covered is not None:
        daily, durations = run_rollups.daily_rows(engine, start, end, covered, *selection, durations=True,
                                                  as_of=as_of)
        return _performance_from(daily, run_rollups.daily_percentiles_from(durations))

    moment = {} if as_of is None else {"as_of": as_of}

    def compute(low: datetime, high: datetime) -> dict:
        return {
            "rollup": performance.daily_rollup(engine, low, high, *selection, **moment),
            "percentiles": performance.daily_percentiles(engine, low, high, *selection, **moment),
        }

    if as_of is not None:
        parts = compute(start, end)
        return _performance_from(parts["rollup"], parts["percentiles"])

    key = (engine.url.render_as_string(), engine.get_execution_options().get("sync_schema"), selection)
    parts = window_frames(DAYS, key, start, end, compute, performance.data_zone(engine))
    return _performance_from(parts["rollup"], parts["percentiles"])


def span(engine: Engine, window: Window, now: datetime) -> tuple[datetime, datetime]:
    """(start, end) of ``window`` at ``now`` over the runs (``windows.bounds``; ``all`` from the first run's day)."""
    return windows.bounds(window, now, partial(performance.first_start, engine))


def _performance_from(rollup: pd.DataFrame, percentiles: pd.DataFrame) -> dict:
    overall = percentiles["crm_source"] == performance.ALL
    return {
        "duration_by_crm": percentiles[~overall].reset_index(drop=True),
        "duration_overall": percentiles[overall].reset_index(drop=True),
        "records_by_crm": performance.records_by_crm_from(rollup),
        "success_rate": performance.success_rate_from(rollup),
        "runs_per_day": performance.runs_per_day_from(rollup),
        "throughput": performance.throughput_from(rollup),
    }


@windows.keyed
@shared("performance")
def performance_tables(engine: Engine, window: Window, now: datetime, crm_sources=(), sync_types=(),
                       as_of: bool = False) -> dict:
    """``performance_frames`` with the window's bounds, shared between viewers (callers pass the
    selections sorted, so the cache key does not depend on their order). ``as_of``: ``now`` is a
    past moment shown (a view's ``at``)."""
    start, end = span(engine, window, now)
    return {"range": window.range, "start": display.iso_utc(start), "end": display.iso_utc(end),
            "frames": performance_frames(engine, start, end, crm_sources, sync_types, now if as_of else None)}


def shared_performance_frames(engine: Engine, window: Window, now: datetime, crm_sources=(),
                              sync_types=(), as_of: bool = False) -> tuple[dict, dict]:
    """The performance page's DataFrames, through the shared cache, and the window they cover
    ({"range", "start", "end"}, ISO UTC); ``as_of``: ``now`` is a past moment shown."""
    answer = performance_tables(engine, window, now, tuple(sorted(crm_sources)), tuple(sorted(sync_types)),
                                as_of=as_of)
    return answer["frames"], {name: answer[name] for name in ("range", "start", "end")}


def _floats(series) -> list[float | None]:
    return [None if v is None or v != v else round(float(v), 3) for v in series]


def performance_charts(frames: dict) -> dict:
    """The JSON of /api/performance-charts: the reference's four series, then the page's detail."""
    overall, by_crm = frames["duration_overall"], frames["duration_by_crm"]
    records, rate = frames["records_by_crm"], frames["success_rate"]
    runs, speed = frames["runs_per_day"], frames["throughput"]
    per_day = runs.groupby("day", sort=True)["runs"].sum()
    return {
        "sync_duration_trend": {"labels": list(overall["day"]), "data": _floats(overall["p50"]),
                                "p95": _floats(overall["p95"])},
        "records_by_crm": {"labels": [display.crm_name(c) for c in records["crm_source"]],
                           "data": [int(v) for v in records["records"]]},
        "success_rate_trend": {"labels": list(rate["day"]), "data": _floats(rate["success_rate"]),
                               "partial_rate": _floats(rate["partial_rate"]) if "partial_rate" in rate else [],
                               "definition": SUCCESS_RATE_HELP},
        "sync_frequency": {"labels": [str(d) for d in per_day.index], "data": [int(v) for v in per_day]},
        "duration_by_crm": [
            {"day": r["day"], "crm_source": r["crm_source"], "p50_seconds": _floats([r["p50"]])[0],
             "p95_seconds": _floats([r["p95"]])[0], "runs": int(r["runs"])} for r in by_crm.to_dict("records")],
        "runs_per_day_by_crm": [
            {"day": r["day"], "crm_source": r["crm_source"], "runs": int(r["runs"])} for r in runs.to_dict("records")],
        "throughput": [
            {"crm_source": r["crm_source"], "sync_type": r["sync_type"],
             "records_per_second": _floats([r["records_per_second"]])[0], "runs": int(r["runs"])}
            for r in speed.to_dict("records")],
    }
