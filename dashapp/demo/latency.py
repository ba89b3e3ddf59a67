"""The embedded demo's API call latencies: each CRM endpoint has its own steady character (a
median between 70 ms and 900 ms and a spread, seeded by its CRM and endpoint, so it is the same on
every start), and calls spread log-normally around it with a slow tail, as real APIs' do."""

from __future__ import annotations

import functools
import math
import random

SLOW_SHARE = 0.02  # about one call in 50 waits three to eight times as long
FASTEST_MS, SLOWEST_MS = 70.0, 900.0


@functools.cache
def profile(crm: str, endpoint: str) -> tuple[float, float]:
    """(median ms, log-normal sigma) of the endpoint's calls."""
    seeded = random.Random(f"latency:{crm}:{endpoint}")
    return math.exp(seeded.uniform(math.log(FASTEST_MS), math.log(SLOWEST_MS))), seeded.uniform(0.3, 0.8)


def call_latency(crm: str, endpoint: str, rng: random.Random) -> float:
    """One call's latency in ms, drawn with ``rng`` (the demo's own, so a backfill is repeatable)."""
    median, sigma = profile(crm, endpoint)
    latency = rng.lognormvariate(math.log(median), sigma)
    if rng.random() < SLOW_SHARE:
        latency *= rng.uniform(3, 8)
    return round(latency, 1)
