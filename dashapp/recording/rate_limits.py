"""Rate-limit headers in the common dialects, read into (limit, remaining, reset time).

- ``X-RateLimit-Limit / -Remaining / -Reset``: reset as epoch seconds or as seconds to go;
- IETF ``RateLimit-Limit / -Remaining / -Reset`` (reset in seconds to go; ``RateLimit-Limit``
  may carry a policy: ``100, 100;w=60``);
- HubSpot's ``X-HubSpot-RateLimit-Max / -Remaining / -Interval-Milliseconds`` (and the
  ``-Daily`` / ``-Daily-Remaining`` pair when the interval ones are absent);
- ``Retry-After`` on a 429, in seconds or as an HTTP date.
Garbage is ignored, never raised: each part is None when it cannot be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

EPOCH_THRESHOLD = 1_000_000_000  # a reset above this is an epoch time, not seconds to go


@dataclass(frozen=True)
class RateLimit:
    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None  # aware UTC

    @property
    def empty(self) -> bool:
        return self.limit is None and self.remaining is None and self.reset_at is None


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    try:
        return {str(k).lower(): str(v) for k, v in headers.items()}
    except Exception:  # noqa: BLE001 - whatever a client hands us
        return {}


def _integer(value: str | None) -> int | None:
    if value is None:
        return None
    first = value.split(",")[0].split(";")[0].strip()
    try:
        number = float(first)
    except ValueError:
        return None
    if number != number or number < 0 or number > 1e12:
        return None
    return int(number)


def _reset(value: str | None, now: datetime) -> datetime | None:
    seconds = _integer(value)
    if seconds is None:
        return None
    if seconds >= EPOCH_THRESHOLD:
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return now + timedelta(seconds=seconds)


def _retry_after(value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    if value.strip().isdigit():
        return now + timedelta(seconds=min(int(value.strip()), 86_400 * 7))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def parse(headers: Mapping[str, str], status_code: int | None, now: datetime) -> RateLimit:
    """What the response says of its rate limit; the first dialect present wins."""
    h = _lower(headers)
    for prefix in ("x-ratelimit-", "ratelimit-"):
        if f"{prefix}limit" in h or f"{prefix}remaining" in h:
            result = RateLimit(_integer(h.get(f"{prefix}limit")), _integer(h.get(f"{prefix}remaining")),
                               _reset(h.get(f"{prefix}reset"), now))
            break
    else:
        if "x-hubspot-ratelimit-max" in h or "x-hubspot-ratelimit-remaining" in h:
            interval_ms = _integer(h.get("x-hubspot-ratelimit-interval-milliseconds"))
            result = RateLimit(_integer(h.get("x-hubspot-ratelimit-max")),
                               _integer(h.get("x-hubspot-ratelimit-remaining")),
                               now + timedelta(milliseconds=interval_ms) if interval_ms is not None else None)
        elif "x-hubspot-ratelimit-daily" in h:
            tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            result = RateLimit(_integer(h.get("x-hubspot-ratelimit-daily")),
                               _integer(h.get("x-hubspot-ratelimit-daily-remaining")), tomorrow)
        else:
            result = RateLimit()
    if status_code == 429:
        retry = _retry_after(h.get("retry-after"), now)
        if retry is not None or result.remaining is None:
            result = RateLimit(result.limit, 0 if result.remaining is None else result.remaining,
                               retry or result.reset_at)
    return result
