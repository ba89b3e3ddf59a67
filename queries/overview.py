"""The overview cards: active syncs and the last 24 hours' outcomes.

Definitions (docs/sync-tables.md, ``queries.outcomes``): active = status class running;
completed, failed and partial = that class with end_time in the last 24 hours, and a failed run
that never closed (end_time NULL: a worker that died) counted by its start_time; success rate =
completed / (completed + failed) x 100, two decimals, 0 when both are 0; partial rate = partial /
(completed + failed + partial).

As of a past moment T (``as_of=True``, a view's ``at``): the 24 hours before T, and only runs that
had ended by T (end_time <= T); active = started by T and either ended after T (it was running
then, whatever its status now) or of the running class and not ended by T. The runs that ended
after T are found by ``queries.as_of.ended_after`` (index reads however long ago they started), so
an old T stays an index read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from queries import outcomes
from queries._sql import Connectable, bind_time, connect, sql, table
from queries.as_of import ended_after

WINDOW = timedelta(hours=24)

# Three statements, so each can use an index: the status index for the running count and for
# failed runs that never closed, and an (end_time) index (deployed; README for the documented
# shape) for the 24-hour window.
_RUNNING = "SELECT COUNT(*) FROM {h} WHERE {running}"
_LAST_24H = """
SELECT COUNT(*) FILTER (WHERE {success}) AS completed,
       COUNT(*) FILTER (WHERE {failed})  AS failed,
       COUNT(*) FILTER (WHERE {partial}) AS partial
FROM {h}
WHERE end_time >= :cutoff
"""
_DIED_24H = "SELECT COUNT(*) FROM {h} WHERE {failed} AND end_time IS NULL AND start_time >= :cutoff"
# as of T: the same statements bounded by T; "running at T" adds queries.as_of.ended_after
_RUNNING_AT = """
SELECT COUNT(*) FROM {h} WHERE {running} AND start_time <= :until AND (end_time IS NULL OR end_time <= :until)
"""
_LAST_24H_AT = _LAST_24H + " AND end_time <= :until"
_DIED_24H_AT = _DIED_24H + " AND start_time <= :until"


@dataclass(frozen=True)
class OverviewCounts:
    active_syncs: int
    completed_today: int
    failed_today: int
    partial_today: int
    success_rate: float | None  # None: no run finished (succeeded or failed) in the window
    partial_rate: float = 0.0

    def as_dict(self) -> dict[str, int | float | None]:
        return asdict(self)


def overview_counts(db: Connectable, now: datetime, as_of: bool = False) -> OverviewCounts:
    """The five overview numbers at ``now`` (an aware or naive-UTC datetime); ``as_of``: ``now`` is
    a past moment, and the numbers are those of that moment (the module's docstring)."""
    with connect(db) as conn:
        h = table(conn, "sync_history")
        classes = {c: outcomes.in_class(conn, c) for c in outcomes.CLASSES}
        if as_of:
            binds = {"cutoff": bind_time(conn, now - WINDOW), "until": bind_time(conn, now)}
            names = ("cutoff", "until")
            active = conn.execute(sql(_RUNNING_AT.format(h=h, **classes), params=names[1:]),
                                  {"until": binds["until"]}).scalar_one()
            # started by T (start_time <= T: before T plus a microsecond) and ended after it
            active += ended_after(conn, _aware(now), None, _aware(now) + timedelta(microseconds=1))
            window = {k: binds[k] for k in names[:2]}
            row = conn.execute(sql(_LAST_24H_AT.format(h=h, **classes), params=names[:2]), window).one()
            died = conn.execute(sql(_DIED_24H_AT.format(h=h, **classes), params=names[:2]), window).scalar_one()
        else:
            active = conn.execute(sql(_RUNNING.format(h=h, **classes))).scalar_one()
            cutoff = {"cutoff": bind_time(conn, now - WINDOW)}
            row = conn.execute(sql(_LAST_24H.format(h=h, **classes), params=("cutoff",)), cutoff).one()
            died = conn.execute(sql(_DIED_24H.format(h=h, **classes), params=("cutoff",)), cutoff).scalar_one()
    completed, failed, partial = (int(v or 0) for v in row)
    failed += int(died or 0)
    rate = outcomes.success_rate(completed, failed) if completed + failed else None
    return OverviewCounts(int(active), completed, failed, partial, rate,
                          outcomes.partial_rate(completed, failed, partial))


def _aware(moment: datetime) -> datetime:
    """An aware or naive-UTC moment, aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
