"""Rollup rows made the frames the payloads read: sums per key, daily counts, duration percentiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from queries import duration_histogram
from queries.run_rollups.columns import ALL, DURATION_VALUES, SECONDS
from queries.run_rollups.hours import key_value


def combine_frames(parts: list[pd.DataFrame], key: list[str], values: list[str]) -> pd.DataFrame:
    parts = [p[key + values] for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=key + values)
    frame = pd.concat(parts, ignore_index=True)
    numbers = frame[values].astype({c: "float64" if c in SECONDS else "int64" for c in values})
    frame = pd.concat([frame[key].reset_index(drop=True), numbers.reset_index(drop=True)], axis=1)
    return sum_by(frame, key, values)


@dataclass(frozen=True)
class Histograms:
    """Duration histograms per (day, CRM): ``counts``' columns are ``DURATION_VALUES``
    (the finished runs, then the buckets), one row per key."""
    keys: list[tuple]
    counts: np.ndarray


def histogram_part(rows: pd.DataFrame) -> tuple[list[tuple], np.ndarray]:
    return (list(zip(rows["day"], map(key_value, rows["crm_source"]), strict=True)),
            rows[DURATION_VALUES].to_numpy(dtype=np.float64))


def sum_rows(keys: list[tuple], counts: np.ndarray) -> tuple[list[tuple], np.ndarray]:
    """``counts``' rows summed per key (numpy: the histograms are ~190 columns wide, which
    pandas' groupby handles a column at a time)."""
    index: dict[tuple, int] = {}
    codes = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))
    sums = np.zeros((len(index), counts.shape[1]), dtype=np.float64)
    np.add.at(sums, codes, counts)
    return list(index), sums


def sum_histograms(parts: list[tuple[list[tuple], np.ndarray]]) -> Histograms:
    parts = [(k, c) for k, c in parts if k]
    if not parts:
        return Histograms([], np.zeros((0, len(DURATION_VALUES))))
    keys = [key for k, _ in parts for key in k]
    return Histograms(*sum_rows(keys, np.vstack([c for _, c in parts])))


def sum_by(frame: pd.DataFrame, key: list[str], values: list[str]) -> pd.DataFrame:
    """``frame``'s ``values`` summed per ``key``, as one consolidated frame (a groupby with
    as_index=False inserts the key columns one by one into the ~200 columns)."""
    sums = frame.groupby(key, dropna=False)[values].sum()  # a NULL CRM or sync type is a key too
    return pd.concat([sums.index.to_frame(index=False), sums.reset_index(drop=True)], axis=1)


def daily_rollup_from(rows: pd.DataFrame) -> pd.DataFrame:
    """``queries.performance.daily_rollup``'s frame from ``run_rows``."""
    columns = ["day", "crm_source", "sync_type", "runs", "completed", "failed", "partial", "timed_runs", "records",
               "timed_records", "timed_seconds"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    frame = rows.assign(**{name: rows["runs"].where(rows["status_class"] == cls, 0)
                           for name, cls in (("completed", "success"), ("failed", "failed"), ("partial", "partial"))},
                        records=rows["records_processed"])
    sums = ["runs", "completed", "failed", "partial", "timed_runs", "records", "timed_records", "timed_seconds"]
    frame = frame.groupby(["day", "crm_source", "sync_type"], as_index=False, dropna=False)[sums].sum()
    return frame.sort_values(["day", "crm_source", "sync_type"]).reset_index(drop=True)[columns]


def percentiles(histograms: np.ndarray, q: float) -> list[float | None]:
    """``duration_histogram.percentile`` of each row of ``histograms`` at once."""
    totals = histograms.sum(axis=1)
    ranks = np.maximum(1, np.ceil(q * totals))
    index = (histograms.cumsum(axis=1) >= ranks[:, None]).argmax(axis=1)
    middles = np.round(duration_histogram.BASE * duration_histogram.RATIO ** (index + 0.5), 3)
    return [None if t == 0 else (0.0 if i == 0 else float(m)) for t, i, m in zip(totals, index, middles, strict=True)]


def daily_percentiles_from(histograms: Histograms) -> pd.DataFrame:
    """``queries.performance.daily_percentiles``' frame (p50, p95 and runs of finished runs that
    succeeded or were partial, per day and CRM and per day over all) from ``daily_rows``'
    histograms."""
    columns = ["day", "crm_source", "p50", "p95", "runs"]
    if not histograms.keys:
        return pd.DataFrame(columns=columns)
    days, overall = sum_rows([(day,) for day, _ in histograms.keys], histograms.counts)
    keys = histograms.keys + [(day, ALL) for (day,) in days]
    counts = np.vstack([histograms.counts, overall])
    finished = counts[:, 0] > 0
    keys = [k for k, keep in zip(keys, finished, strict=True) if keep]
    counts = counts[finished]
    result = pd.DataFrame({"day": [k[0] for k in keys], "crm_source": [k[1] for k in keys],
                           "p50": percentiles(counts[:, 1:], 0.5), "p95": percentiles(counts[:, 1:], 0.95),
                           "runs": counts[:, 0].astype("int64")})
    return result.sort_values(["day", "crm_source"]).reset_index(drop=True)[columns]
