"""The clock: the one source of "now" (UTC, aware) for queries, payloads and pages; tests and the
demo pass their own moment where they need a fixed one."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
