"""A fixed, log-spaced latency histogram: bucket i holds durations in [RATIO**i, RATIO**(i+1)) ms
(bucket 0 also everything below 1 ms, the last everything above). Percentiles read from it are
within RATIO - 1 (15%) of the exact value, whatever the window, and histograms add up, so the
app can keep one per minute and merge any window from them."""

from __future__ import annotations

import math

RATIO = 1.15
BUCKETS = 80  # up to 1.15**80 ms, about 71 s
COLUMNS = [f"h{i:02d}" for i in range(BUCKETS)]


def bucket(duration_ms: float) -> int:
    if not duration_ms or duration_ms < 1:
        return 0
    return min(BUCKETS - 1, int(math.log(duration_ms) / math.log(RATIO)))


def bucket_sql(postgres: bool, column: str = "duration_ms") -> str:
    """The same bucket, as SQL (ln and floor: PostgreSQL, and SQLite's math functions)."""
    least = "LEAST" if postgres else "MIN"
    return (f"CASE WHEN {column} IS NULL OR {column} < 1 THEN 0 "
            f"ELSE {least}({BUCKETS - 1}, CAST(FLOOR(LN({column}) / LN({RATIO})) AS INTEGER)) END")


def percentile(counts: list[int], q: float) -> float | None:
    """The q-quantile (0..1, nearest rank) of a histogram, as its bucket's geometric middle."""
    total = sum(counts)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for i, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return round(RATIO ** (i + 0.5), 3)
    return round(RATIO ** (BUCKETS - 0.5), 3)
