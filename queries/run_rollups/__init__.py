"""The run rollups' reads: per UTC hour, calendar day (the data zone's, as the raw queries label
days), CRM, sync type and status class, the runs' counts, record sums, durations and a duration
histogram (``queries.duration_histogram``); per hour and error class, the failed and partial runs.

``hour_rows`` and ``error_rows`` aggregate the raw table over a time range (the builder writes
their rows; the readers use them for the open edge of a window). ``run_rows`` answers a window
from the rollups for whole hours (``run_days`` for whole UTC days, ``run_hours`` for the hours
around them) and from the raw table for the edges: before the first whole hour or 2000-01-01
(``time_bounds.EARLIEST``: older runs are never rolled up), from ``covered_until`` (the hour the
rollups reach) on, and the UTC hours holding runs written since the rollups' last cycle
(``dirty_hours``: a late run is counted before the refresh rolls it up). Keys are kept as the
user's table holds them: a NULL CRM or sync type is a key of its own, apart from ''. The
``*_from`` functions turn those rows into the frames the performance, errors, metrics and
failed-operations payloads read.

The package, one module per step (each imports only the ones above it):
- ``columns``: the rollup tables' key and value columns; ``hours``: hours and days as keyed;
- ``fetch``: rollup-sized results through the driver's cursor;
- ``raw``: the raw table's aggregates and probes (``hour_rows``, ``error_rows``, ``hours_with_runs``);
- ``plan``: which parts of a window the rollups answer (``plan_window``, ``split_window``);
- ``state``: how far they reach (``ready``) and which hours are stale (``dirty_hours``);
- ``frames``: rows made the payloads' frames; ``read``: the readers' answers over a window;
- ``count``: the history's exact count (``rollup_count``).
Run-scope conditions come from ``queries.scope``. Readers import this package's names below, never
a module's private ones; ``dashapp.storage.rollups`` builds and refreshes the tables.
"""

from __future__ import annotations

from queries.run_rollups.columns import COUNTS, DURATIONS, KEY, SECONDS, STATE, VALUES
from queries.run_rollups.count import classes_of, rollup_count
from queries.run_rollups.fetch import wide_rows
from queries.run_rollups.frames import Histograms, daily_percentiles_from, daily_rollup_from, percentiles
from queries.run_rollups.hours import EARLIEST_HOUR, day_text, floor_day, floor_hour, key_value, parse_day
from queries.run_rollups.plan import MAX_DIRTY_RANGES, plan_window, split_window
from queries.run_rollups.raw import error_rows, hour_rows, hours_after_id, hours_with_runs, next_start
from queries.run_rollups.read import daily_rows, error_messages, run_rows, window_rows
from queries.run_rollups.state import dirty_hours, last_id, ready

__all__ = [
    "COUNTS", "DURATIONS", "EARLIEST_HOUR", "KEY", "MAX_DIRTY_RANGES", "SECONDS", "STATE", "VALUES", "Histograms",
    "classes_of", "daily_percentiles_from", "daily_rollup_from", "daily_rows", "day_text", "dirty_hours",
    "error_messages", "error_rows", "floor_day", "floor_hour", "hour_rows", "hours_after_id", "hours_with_runs",
    "key_value", "last_id", "next_start", "parse_day", "percentiles", "plan_window", "ready", "rollup_count",
    "run_rows", "split_window", "wide_rows", "window_rows",
]
