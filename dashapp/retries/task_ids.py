"""A retry's Celery task id names the operation and the attempt (``sync-monitor-retry-<sync_id>-<attempt>``):
the web process makes it when it sends a retry, the worker's signal handlers (``tracking``) read it.
Kept apart from ``tracking`` so the web process never imports Celery's signal handlers."""

from __future__ import annotations

import re

PREFIX = "sync-monitor-retry-"
_TASK_ID = re.compile(r"^sync-monitor-retry-(\d+)-(\d+)$")


def task_id_for(sync_id: int, attempt: int) -> str:
    return f"{PREFIX}{sync_id}-{attempt}"


def parse_task_id(task_id: str | None) -> tuple[int, int] | None:
    match = _TASK_ID.match(task_id or "")
    return (int(match.group(1)), int(match.group(2))) if match else None
