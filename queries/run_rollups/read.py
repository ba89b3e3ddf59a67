"""The readers' answers over a window: whole hours and days from the rollup tables, the edges and
stale hours from the raw table (``plan.plan_window``), summed into one frame."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from queries import scope
from queries._sql import Binds, Connectable, app_db, app_table, connect, to_utc
from queries.run_rollups import fetch
from queries.run_rollups.columns import (
    COUNTS,
    DAILY,
    DAILY_KEY,
    DURATION_KEY,
    DURATION_VALUES,
    KEY,
    SECONDS,
    TIMED,
)
from queries.run_rollups.frames import (
    Histograms,
    combine_frames,
    daily_rollup_from,
    histogram_part,
    sum_by,
    sum_histograms,
)
from queries.run_rollups.plan import plan_window, split_window
from queries.run_rollups.raw import error_rows, hour_rows, spanning_hours
from queries.run_rollups.state import dirty_hours


def rollup_statement(b: Binds, name: str, period: str, low: object, high: object, crm_sources, sync_types,
                      classes: tuple[str, ...], key: list[str], values: list[str]) -> str:
    """``values`` summed per ``key`` over the rollup table ``name`` for ``period`` in [low, high)."""
    where = scope.rollups(b, period, low, high, crm_sources, sync_types, classes)
    kind = "DOUBLE PRECISION" if b.postgres else "REAL"
    sums = ", ".join(f"CAST(SUM({c}) AS {kind if c in SECONDS else 'BIGINT'}) AS {c}" for c in values)
    return f"""
        SELECT {', '.join(key)}, {sums} FROM {app_table(b.conn, name)}
        WHERE {scope.where(where)} GROUP BY {', '.join(key)}"""


def rollup_frame(b: Binds, name: str, period: str, low: object, high: object, crm_sources, sync_types,
                classes: tuple[str, ...], key: list[str], values: list[str]) -> pd.DataFrame:
    statement = rollup_statement(b, name, period, low, high, crm_sources, sync_types, classes, key, values)
    return fetch.wide_frame(b, statement, len(key))


def daily_sql(b: Binds, name: str, period: str, low: object, high: object, crm_sources, sync_types,
               by: tuple[str, ...] = DAILY_KEY) -> pd.DataFrame:
    """``queries.performance.daily_rollup``'s columns summed per ``by`` over a rollup table in
    SQL (per day, CRM and sync type: a quarter of the rows the per-class key would return)."""
    where = scope.rollups(b, period, low, high, crm_sources, sync_types)
    kind = "DOUBLE PRECISION" if b.postgres else "REAL"
    return fetch.wide_frame(b, f"""
        SELECT {', '.join(by)}, CAST(SUM(runs) AS BIGINT) AS runs,
               CAST(SUM(CASE WHEN status_class = 'success' THEN runs ELSE 0 END) AS BIGINT) AS completed,
               CAST(SUM(CASE WHEN status_class = 'failed' THEN runs ELSE 0 END) AS BIGINT) AS failed,
               CAST(SUM(CASE WHEN status_class = 'partial' THEN runs ELSE 0 END) AS BIGINT) AS partial,
               CAST(SUM(timed_runs) AS BIGINT) AS timed_runs, CAST(SUM(records_processed) AS BIGINT) AS records,
               CAST(SUM(timed_records) AS BIGINT) AS timed_records, CAST(SUM(timed_seconds) AS {kind}) AS timed_seconds
        FROM {app_table(b.conn, name)} WHERE {scope.where(where)}
        GROUP BY {', '.join(by)}""", len(by))


def _stale(db: Connectable, start: datetime | None, covered: datetime, as_of: datetime | None) -> frozenset[datetime]:
    """The hours read from the raw table: the dirty ones, and as of a moment (``as_of``) those whose
    runs it would count differently (``queries.as_of.spanning_hours``)."""
    dirty = dirty_hours(db, covered)
    return dirty if as_of is None else dirty | spanning_hours(db, start, as_of)


def daily_rows(db: Connectable, start: datetime, end: datetime, covered: datetime, crm_sources=(), sync_types=(),
               durations: bool = False, by: tuple[str, ...] = DAILY_KEY,
               as_of: datetime | None = None) -> tuple[pd.DataFrame, Histograms | None]:
    """``queries.performance.daily_rollup``'s frame for runs started in [start, end) (summed per
    ``by``, a part of its key: the errors page needs CRMs only), and (with ``durations``) the
    duration histograms of finished runs that succeeded or were partial per day and CRM. The raw
    edges are read once for both; whole days of the histograms come from ``duration_days`` (no
    sync type in it) unless a sync type is chosen. ``as_of``: the runs as they stood then (``end`` at
    most it): a run that ended later is running."""
    raw, rolled = plan_window(start, end, covered, _stale(db, start, covered, as_of))
    edges = [hour_rows(db, a, b, crm_sources, sync_types, histogram=durations, as_of=as_of) for a, b in raw]
    counts = [daily_rollup_from(e) for e in edges]
    histograms = [histogram_part(e[e["status_class"].isin(TIMED)]) for e in edges]
    if rolled:
        with connect(app_db(db)) as conn:
            for name, period, low, high in rolled:
                counts.append(daily_sql(Binds(conn), name, period, low, high, crm_sources, sync_types, by))
                if not durations:
                    continue
                b = Binds(conn)
                if name == "run_days" and not sync_types:
                    statement = rollup_statement(b, "duration_days", period, low, high, crm_sources, (), (),
                                                  DURATION_KEY, DURATION_VALUES)
                else:
                    statement = rollup_statement(b, name, period, low, high, crm_sources, sync_types, TIMED,
                                                  DURATION_KEY, DURATION_VALUES)
                histograms.append(fetch.wide_rows(b, statement, len(DURATION_KEY))[:2])
    parts = [c for c in counts if not c.empty]
    if parts:
        frame = pd.concat(parts, ignore_index=True)
        numbers = frame[DAILY].astype({c: "float64" if c == "timed_seconds" else "int64" for c in DAILY})
        frame = sum_by(pd.concat([frame[list(by)], numbers], axis=1), list(by), DAILY)
    else:
        frame = pd.DataFrame(columns=[*by, *DAILY])
    frame = frame.sort_values(list(by)).reset_index(drop=True)
    return frame, sum_histograms(histograms) if durations else None


def window_rows(db: Connectable, start: datetime | None, end: datetime | None, covered: datetime,
                crm_sources=(), sync_types=(), classes: tuple[str, ...] = ()) -> pd.DataFrame:
    """Runs started in [start, end): counts and sums per day, CRM, sync type and class."""
    raw, rolled = plan_window(start, end, covered, dirty_hours(db, covered))
    counts = [hour_rows(db, a, b, crm_sources, sync_types, classes, histogram=False) for a, b in raw]
    if rolled:
        with connect(app_db(db)) as conn:
            counts += [rollup_frame(Binds(conn), name, period, low, high, crm_sources, sync_types, classes,
                                     KEY, COUNTS + SECONDS) for name, period, low, high in rolled]
    return combine_frames(counts, KEY, COUNTS + SECONDS)


def run_rows(db: Connectable, start: datetime | None, end: datetime | None, covered: datetime,
             crm_sources=(), sync_types=(), classes: tuple[str, ...] = ()) -> pd.DataFrame:
    """Runs started in [start, end) per day, CRM, sync type and class: their counts and sums."""
    return window_rows(db, start, end, covered, crm_sources, sync_types, classes)


def error_messages(db: Connectable, start: datetime, end: datetime, covered: datetime,
                   as_of: datetime | None = None) -> pd.DataFrame:
    """``queries.errors.daily_messages``' frame (day, message, runs, failed, partial, last_seen)
    with one row per error class (its sample as the message) for the whole hours before
    ``covered``, summed in SQL, and the raw table's rows for the edges. Counts and last seen are
    exact; a class's sample is its most frequent message in the hour that had the most.
    (``day`` is left empty on the rolled-up rows: ``queries.errors.classes_from`` ignores it.)
    ``as_of``: the runs as they stood then."""
    raw, spans = split_window(start, end, covered, _stale(db, start, covered, as_of))
    parts = [error_rows(db, a, b, as_of) for a, b in raw]
    if spans:
        with connect(app_db(db)) as conn:
            b = Binds(conn)
            t = app_table(conn, "error_hours")
            window = scope.hour_spans(b, spans)
            sums = b.frame(f"""
                SELECT error_class, SUM(runs) AS runs, SUM(failed) AS failed, SUM(partial) AS partial,
                       MAX(last_seen) AS last_seen
                FROM {t} WHERE {window} GROUP BY error_class""")
            samples = b.frame(f"""
                SELECT error_class, MIN(sample) AS sample FROM {t}
                WHERE {window} AND (error_class, sample_runs) IN (
                    SELECT error_class, MAX(sample_runs) FROM {t} WHERE {window} GROUP BY error_class)
                GROUP BY error_class""")
        parts.append(sums.merge(samples, on="error_class", how="left").assign(day=""))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=["day", "message", "runs", "failed", "partial", "last_seen"])
    frame = pd.concat(parts, ignore_index=True)
    frame["last_seen"] = to_utc(pd.to_datetime(frame["last_seen"]), UTC)  # type: ignore[arg-type]
    frame = frame.rename(columns={"sample": "message"})
    frame[["runs", "failed", "partial"]] = frame[["runs", "failed", "partial"]].astype("int64")
    return frame[["day", "message", "runs", "failed", "partial", "last_seen"]]
