"""The overview cards: active syncs and the last 24 hours' outcomes.

Definitions (shared/reference/sync-tables.md): active = status 'running'; completed, failed and
partial = that status with end_time in the last 24 hours; success rate = completed /
(completed + failed) x 100, two decimals, 0 when both are 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from queries._sql import Connectable, bind_time, connect, sql, table

WINDOW = timedelta(hours=24)

# Two statements, so each can use an index: the user's (status) index for the running count,
# and an (end_time) index, when the warehouse has one (README), for the 24-hour window.
_RUNNING = "SELECT COUNT(*) FROM {h} WHERE status = 'running'"
_LAST_24H = """
SELECT COUNT(*) FILTER (WHERE status = 'success') AS completed,
       COUNT(*) FILTER (WHERE status = 'failed')  AS failed,
       COUNT(*) FILTER (WHERE status = 'partial') AS partial
FROM {h}
WHERE end_time >= :cutoff
"""


@dataclass(frozen=True)
class OverviewCounts:
    active_syncs: int
    completed_today: int
    failed_today: int
    partial_today: int
    success_rate: float

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


def success_rate(completed: int, failed: int) -> float:
    finished = completed + failed
    return round(completed * 100.0 / finished, 2) if finished else 0.0


def overview_counts(db: Connectable, now: datetime) -> OverviewCounts:
    """The five overview numbers as of ``now`` (an aware or naive-UTC datetime)."""
    with connect(db) as conn:
        h = table(conn, "sync_history")
        active = conn.execute(sql(_RUNNING.format(h=h))).scalar_one()
        row = conn.execute(
            sql(_LAST_24H.format(h=h), params=("cutoff",)),
            {"cutoff": bind_time(conn, now - WINDOW)},
        ).one()
    completed, failed, partial = (int(v or 0) for v in row)
    return OverviewCounts(int(active), completed, failed, partial, success_rate(completed, failed))
