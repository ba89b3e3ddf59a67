"""The errors page: recent failed and partial runs, error classes, and the CRMs that fail most.

Problems are runs of the classes failed and partial (``queries.outcomes``), each shown with its
own colour. ``daily_messages`` counts them per day, class and distinct message (first 500
characters) in SQL; ``classes_from`` turns those few distinct texts into error classes. Failure
rates come from the performance page's ``daily_rollup`` (``failure_rates_from``), so both are
per-day tables the app can keep for days that no longer change.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from queries import outcomes, scope
from queries._sql import Binds, Connectable, connect, day_sql, label_days, read_frame, sql
from queries.as_of import runs_source
from queries.error_classes import error_class, search_text
from queries.messages import LIST_BOUND, cut

PROBLEMS = ("failed", "partial")

TIMES = ("start_time", "end_time")


def recent_failures(db: Connectable, limit: int = 10, bound: int = LIST_BOUND,
                    as_of: datetime | None = None) -> pd.DataFrame:
    """The newest ``limit`` failed or partial runs, each message cut in SQL to ``bound``
    characters with its full length (``error_message_length``: ``queries.messages``). ``as_of``:
    those that had failed by then (``queries.as_of.runs_source``)."""
    with connect(db) as conn:
        b = Binds(conn)
        source = runs_source(b, as_of)
        statement = sql(f"""
            SELECT id, crm_source, sync_type, status, {outcomes.class_case(conn)} AS status_class,
                   start_time, end_time, {cut("error_message", "error_message", bound)}
            FROM {source} WHERE {outcomes.in_class(conn, *PROBLEMS)}
            ORDER BY start_time DESC, id DESC LIMIT :limit""", times=TIMES, params=tuple(b.time_params))
        return read_frame(conn, statement, {**b.params, "limit": int(limit)}, times=TIMES)


def daily_messages(db: Connectable, start: datetime, end: datetime, as_of: datetime | None = None) -> pd.DataFrame:
    """Failed and partial runs started in [start, end), per day and distinct message: runs, of
    which failed and partial, and the last start. ``as_of``: the runs as they stood then."""
    with connect(db) as conn:
        b = Binds(conn)
        source = runs_source(b, as_of)
        return label_days(b.frame(f"""
            SELECT {day_sql(conn)} AS day, SUBSTR(error_message, 1, 500) AS message, COUNT(*) AS runs,
                   COUNT(*) FILTER (WHERE {outcomes.in_class(conn, 'failed')}) AS failed,
                   COUNT(*) FILTER (WHERE {outcomes.in_class(conn, 'partial')}) AS partial,
                   MAX(start_time) AS last_seen
            FROM {source}
            WHERE {scope.where(scope.runs(b, start=start, end=end, classes=PROBLEMS))}
            GROUP BY 1, 2""", times=("last_seen",)))


def classes_from(messages: pd.DataFrame) -> pd.DataFrame:
    """Error classes, most frequent first: runs (failed and partial), a sample message, last
    seen, a search text."""
    columns = ["error_class", "runs", "failed", "partial", "sample", "last_seen", "search"]
    if messages.empty:
        return pd.DataFrame(columns=columns)
    texts = messages.groupby("message", as_index=False, dropna=False).agg(
        runs=("runs", "sum"), failed=("failed", "sum"), partial=("partial", "sum"), last_seen=("last_seen", "max"))
    texts["error_class"] = [error_class(None if pd.isna(m) else m) for m in texts["message"]]
    texts = texts.sort_values("runs", ascending=False)
    grouped = texts.groupby("error_class", sort=False).agg(
        runs=("runs", "sum"), failed=("failed", "sum"), partial=("partial", "sum"), sample=("message", "first"),
        last_seen=("last_seen", "max")).reset_index()
    grouped["search"] = [search_text(c) for c in grouped["error_class"]]
    return grouped.sort_values(["runs", "error_class"], ascending=[False, True]).reset_index(drop=True)[columns]


def failure_rates_from(rollup: pd.DataFrame) -> pd.DataFrame:
    """Per CRM: finished runs (success, failed, partial), failed, partial, the failure rate
    (failed / (success + failed)) and the partial rate, in percent (``queries.outcomes``); worst
    first."""
    frame = rollup.groupby("crm_source", as_index=False)[["completed", "failed", "partial"]].sum()
    frame["finished"] = frame["completed"] + frame["failed"] + frame["partial"]
    frame = frame[frame["finished"] > 0]
    counts = list(zip(frame["completed"], frame["failed"], frame["partial"], strict=True))
    frame = frame.assign(failure_rate=[outcomes.failure_rate(int(s), int(f)) for s, f, _ in counts],
                         partial_rate=[outcomes.partial_rate(int(s), int(f), int(p)) for s, f, p in counts])
    return frame.sort_values(["failure_rate", "failed", "partial_rate", "crm_source"],
                             ascending=[False, False, False, True])[
        ["crm_source", "finished", "failed", "partial", "failure_rate", "partial_rate"]].reset_index(drop=True)
