"""PostgreSQL's ``percentile_cont`` in Python, for tests that work out a percentile of the rows
they wrote themselves."""

from __future__ import annotations


def percentile_cont(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks, as ``percentile_cont(fraction)`` does."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])
