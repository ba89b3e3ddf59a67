"""Crafted rows for tests: written straight into the user's tables, as a warehouse would hold
them (NULL counts, unknown statuses and open runs included), with the expected figures computed
from the same rows in plain Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert

from dashapp.storage.sync_tables import sync_history, sync_schedule
from queries._sql import bind_time
from queries.outcomes import partial_rate, status_class


@dataclass
class Run:
    crm_source: str
    sync_type: str
    status: str | None
    start_ago: timedelta
    end_ago: timedelta | None
    processed: int | None = 0
    created: int | None = 0
    updated: int | None = 0
    failed: int | None = 0
    error: str | None = None
    configuration: dict | None = None
    id: int | None = field(default=None)

    def start(self, now: datetime) -> datetime:
        return now - self.start_ago

    def end(self, now: datetime) -> datetime | None:
        return None if self.end_ago is None else now - self.end_ago


def deployed(engine: Engine) -> bool:
    """Whether ``engine`` holds the tables as the warehouse deploys them (tests/support/deployed_shape.py)."""
    from queries.table_shape import shape

    return shape(engine).has("sync_schedule", "source_key")


def insert_runs(engine: Engine, runs: list[Run], now: datetime) -> list[Run]:
    """Write ``runs``; in the deployed shape, whose counts are NOT NULL DEFAULT 0, a NULL count
    is written (and kept on the Run, for the expected figures) as 0."""
    if deployed(engine):
        for run in runs:
            for name in ("processed", "created", "updated", "failed"):
                if getattr(run, name) is None:
                    setattr(run, name, 0)
    with engine.begin() as conn:
        for run in runs:
            result = conn.execute(insert(sync_history).values(
                crm_source=run.crm_source, sync_type=run.sync_type, status=run.status,
                start_time=bind_time(conn, run.start(now)),
                end_time=bind_time(conn, run.end(now)) if run.end_ago is not None else None,
                records_processed=run.processed, records_created=run.created,
                records_updated=run.updated, records_failed=run.failed, error_message=run.error,
                **({"configuration": run.configuration} if run.configuration is not None else {}),
            ))
            run.id = int(result.inserted_primary_key[0])
    return runs


def insert_schedules(engine: Engine, schedules: list[dict], now: datetime) -> None:
    """``schedules``: column values, with ``last_run``/``next_run`` given as UTC datetimes. In
    the deployed shape the crontab fields lose their ``crontab_`` prefix and ``last_run`` and
    ``next_run``, which it has not, are left out (beat's tables hold them: tests/support/deployed_shape.py)."""
    if deployed(engine):
        from tests.support import deployed_shape

        for row in schedules:
            cron = {k.removeprefix("crontab_"): v for k, v in row.items() if k.startswith("crontab_")}
            deployed_shape.schedule(engine, row["crm_source"], row.get("model_name", "x"),
                                    recurrence_type=row["recurrence_type"], every=row.get("every"),
                                    period=row.get("period"), cron=cron, enabled=row.get("enabled", True))
        return
    with engine.begin() as conn:
        for row in schedules:
            values = {"name": f"{row['crm_source']}-{row.get('model_name', 'x')}", "model_name": "x",
                      "mode": "delta", **row}
            for column in ("last_run", "next_run"):
                if values.get(column) is not None:
                    values[column] = bind_time(conn, values[column])
            conn.execute(insert(sync_schedule).values(**values))


H = timedelta(hours=1)
M = timedelta(minutes=1)


def edge_case_runs() -> list[Run]:
    """Both sides of the 24-hour line, open runs, NULL counts, an unknown status, a new CRM."""
    return [
        Run("hubspot", "contacts", "success", H + 5 * M, H, 100, 40, 60, 0),
        Run("hubspot", "contacts", "failed", 24 * H - 5 * M, 24 * H - 10 * M, 3, 0, 0, 3,
            error="HTTPError: 429 Too Many Requests"),
        Run("hubspot", "deals", "success", 24 * H + 20 * M, 24 * H + 10 * M, 50, 5, 45, 0),
        Run("genius", "appointments", "partial", 2 * H + 3 * M, 2 * H, None, None, None, 2,
            error="2 records rejected"),
        Run("genius", "appointments", "running", 10 * M, None, 7, 2, 5, 0),
        Run("callrail", "calls", "success", 31 * M, 30 * M, 420, 120, 300, 0),
        Run("callrail", "calls", "queued", 5 * M, None, 0, 0, 0, 0),
        Run("five9", "call_logs", "failed", 3 * H + 2 * M, 3 * H, 0, 0, 0, 0,
            error="ReadTimeout: HTTPSConnectionPool(host='api.five9.com', port=443): Read timed out."),
        Run("new_crm", "widgets", "success", 5 * H + 1 * M, 5 * H, 12, 12, 0, 0),
        Run("five9", "call_logs", "failed", 30 * H, None, 0, 0, 0, 0, error="died without closing"),
        # what the sync engines write besides the four documented values, and a run whose worker
        # died in the window (failed, never closed): counted by its start
        Run("arrivy", "tasks", "completed", 40 * M, 35 * M, 30, 10, 20, 0),
        Run("arrivy", "tasks", "in_progress", 4 * M, None, 3, 1, 2, 0),
        Run("salespro", "jobs", "failed", 6 * H, None, 0, 0, 0, 0, error="worker lost"),
    ]


def expected_overview(runs: list[Run]) -> dict[str, float]:
    """The operators' definitions, applied to ``runs`` in Python: statuses by class (completed is
    a success, in_progress is running), a failed run that never closed counted by its start."""
    def ended_within(kind: str) -> int:
        return sum(1 for r in runs if status_class(r.status) == kind and (
            (r.end_ago is not None and r.end_ago <= 24 * H)
            or (kind == "failed" and r.end_ago is None and r.start_ago <= 24 * H)))

    completed, failed, partial = ended_within("success"), ended_within("failed"), ended_within("partial")
    finished = completed + failed
    return {
        "active_syncs": sum(1 for r in runs if status_class(r.status) == "running"),
        "completed_today": completed,
        "failed_today": failed,
        "partial_today": partial,
        "success_rate": round(completed * 100 / finished, 2) if finished else None,
        "partial_rate": partial_rate(completed, failed, partial),
    }


def latest_per_crm(runs: list[Run]) -> dict[str, Run]:
    latest: dict[str, Run] = {}
    for run in runs:
        best = latest.get(run.crm_source)
        if best is None or run.start_ago < best.start_ago:
            latest[run.crm_source] = run
    return latest


def history_runs() -> list[Run]:
    """60 runs over 10 days, three CRMs, every status, NULLs, Unicode, LIKE wildcards in text."""
    crms = ["hubspot", "genius", "callrail"]
    statuses = ["success", "failed", "partial", "success", "running", "weird"]
    errors = [None, "HTTPError: 429 Too Many Requests", "ReadTimeout: api.callrail.com", "Ошибка ✓ 顧客 100%_done",
              "it's a \"quoted\" value; DROP", None]
    runs = []
    for i in range(60):
        status = statuses[i % len(statuses)]
        open_run = status == "running"
        runs.append(Run(
            crms[i % 3], ["contacts", "calls"][i % 2], status,
            start_ago=timedelta(hours=4 * i + 1, minutes=i), end_ago=None if open_run else timedelta(hours=4 * i + 1),
            processed=None if i % 17 == 0 else (i * 37) % 500, created=i % 7, updated=(i * 3) % 11, failed=i % 4,
            error=errors[i % len(errors)],
        ))
    return runs
