"""A fixed, log-spaced histogram of run durations in seconds: bucket i holds [BASE * RATIO**i,
BASE * RATIO**(i+1)) (bucket 0 also everything below BASE, the last everything above). A
percentile read from it is its bucket's geometric middle, within sqrt(RATIO) - 1 (4.9%) of the
exact value for durations from BASE to BASE * RATIO**BUCKETS (10 ms to about 8 days); below BASE
it reads 0. Histograms add up, so the run rollups keep one per hour and merge any window.
Modelled on ``queries.latency_histogram`` (the API calls' rollups)."""

from __future__ import annotations

import math

RATIO = 1.1
BASE = 0.01  # seconds
BUCKETS = 190  # up to 0.01 * 1.1**190 s, about 8.5 days
COLUMNS = [f"d{i:03d}" for i in range(BUCKETS)]


def bucket(seconds: float | None) -> int:
    if seconds is None or seconds != seconds or seconds < BASE:
        return 0
    return min(BUCKETS - 1, int(math.log(seconds / BASE) / math.log(RATIO)))


def bucket_sql(postgres: bool, seconds: str) -> str:
    """The same bucket as SQL over the expression ``seconds`` (NULL for a NULL duration)."""
    least = "LEAST" if postgres else "MIN"
    return (f"CASE WHEN {seconds} IS NULL THEN NULL WHEN {seconds} < {BASE} THEN 0 "
            f"ELSE {least}({BUCKETS - 1}, CAST(FLOOR(LN({seconds} / {BASE}) / LN({RATIO})) AS INTEGER)) END")


def percentile(counts: list[int], q: float) -> float | None:
    """The q-quantile (0..1, nearest rank, as percentile_disc) of a histogram, as its bucket's
    geometric middle (0 in bucket 0)."""
    total = sum(counts)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for i, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return 0.0 if i == 0 else round(BASE * RATIO ** (i + 0.5), 3)
    return round(BASE * RATIO ** (BUCKETS - 0.5), 3)
