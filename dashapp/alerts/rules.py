"""The alert rules: each looks at the data (through ``queries/``) or the health probes and returns
what it finds now, as Findings. A Finding is identified by its rule and subject ("late" on
"hubspot"); ``dashapp.alerts.evaluation`` turns findings into firing and resolved alerts.

Thresholds come from ``dashapp.alerts.config`` (defaults, ALERT_RULES_FILE).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from dashapp import display
from dashapp.alerts.config import AlertConfig
from dashapp.config import Settings
from dashapp.health import snapshot as health
from queries import alerts as queries
from queries import crm_api_usage, table_shape
from queries.crm_status import crm_status

HISTORY_DAYS = 30  # how far back the per-pair rules look for a pair's recent runs


@dataclass(frozen=True)
class Finding:
    rule: str
    subject: str
    severity: str
    summary: str
    value: float | None = None


@dataclass
class Context:
    engine: Engine
    settings: Settings
    config: AlertConfig
    now: datetime
    _health: dict | None = field(default=None, repr=False)

    def health(self) -> dict:
        if self._health is None:
            self._health = health.system_health(self.settings, self.engine)
        return self._health


def _gap(delta: timedelta) -> str:
    """``2 h 5 min``, ``45 min``, ``30 s``."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h"


def _rate(ctx: Context, rule_name: str) -> list[Finding]:
    """error_rate (failed share over the threshold) and success_rate (succeeded share under it),
    per CRM over the rule's window, for CRMs with at least min_runs finished runs."""
    rule = ctx.config[rule_name]
    errors = rule_name == "error_rate"
    rates = queries.run_rates(ctx.engine, ctx.now - timedelta(minutes=rule["window_minutes"]))
    found = []
    for row in rates.to_dict("records"):
        finished = int(row["finished"])
        counted = int((row["failed"] if errors else row["succeeded"]) or 0)
        percent = counted * 100.0 / finished if finished else 0.0
        breached = percent > rule["threshold"] if errors else percent < rule["threshold"]
        if finished >= rule["min_runs"] and breached:
            what, bound = ("failed", "over") if errors else ("succeeded", "under")
            found.append(Finding(rule_name, row["crm_source"], rule["severity"],
                                 f"{display.crm_name(row['crm_source'])}: {percent:.1f}% of {finished} runs {what} in "
                                 f"the last {rule['window_minutes']} min ({bound} {rule['threshold']:g}%)",
                                 round(percent, 2)))
    return found


def error_rate(ctx: Context) -> list[Finding]:
    return _rate(ctx, "error_rate")


def success_rate(ctx: Context) -> list[Finding]:
    return _rate(ctx, "success_rate")


def late(ctx: Context) -> list[Finding]:
    """A CRM with a sync ``queries.freshness`` calls late (a firing its schedule should have sent
    produced no run within its grace; never one beat sent that waits for a worker, ``queued``,
    until it has waited ``freshness.QUEUED_LIMIT``), its worst one named; warning, critical once it has missed
    ``critical_factor`` firings. A CRM with an SLA in the rules file is also late when no success
    came within it."""
    rule = ctx.config["late"]
    found: dict[str, Finding] = {}
    states = crm_status(ctx.engine, ctx.now)
    found_shape = table_shape.shape(ctx.engine)
    for row in states[states["state"] == "late"].sort_values("overdue_seconds").to_dict("records"):
        overdue = float(row["overdue_seconds"])
        severity = "critical" if int(row["missed"]) >= rule["critical_factor"] else "warning"
        crm = row["crm_source"]
        reason = table_shape.without_grant(row["state_reason"], found_shape)  # alerts are read by anyone
        found[crm] = Finding("late", crm, severity, f"{display.crm_name(crm)} {row['sync_type']}: overdue by "
                             f"{_gap(timedelta(seconds=overdue))}; {reason}", round(overdue, 1))
    for crm, finding in _sla_late(ctx).items():
        if crm not in found or finding.severity == "critical":
            found[crm] = finding
    return [found[crm] for crm in sorted(found)]


def _sla_late(ctx: Context) -> dict[str, Finding]:
    rule = ctx.config["late"]
    if not ctx.config.sla:
        return {}
    window = max(ctx.config.sla.values()) * rule["critical_factor"] * 3 + timedelta(minutes=1)
    last = {r["crm_source"]: r["last_success"] for r in queries.last_success(ctx.engine, ctx.now - window)
            .to_dict("records")}
    found = {}
    for crm, sla in sorted(ctx.config.sla.items()):
        seen = last.get(crm)
        gap = ctx.now - seen.to_pydatetime() if seen is not None and not pd.isna(seen) else None
        if gap is not None and gap <= sla * rule["warning_factor"]:
            continue
        severity = "critical" if gap is None or gap > sla * rule["critical_factor"] else "warning"
        since = f"for {_gap(gap)}" if gap is not None else f"in the last {_gap(window)}"
        found[crm] = Finding("late", crm, severity, f"{display.crm_name(crm)}: no successful sync {since} "
                             f"(SLA {_gap(sla)})", round(gap.total_seconds(), 1) if gap is not None else None)
    return found


def stuck(ctx: Context) -> list[Finding]:
    rule = ctx.config["stuck"]
    ceiling = timedelta(minutes=rule["ceiling_minutes"])
    open_runs = queries.running(ctx.engine).to_dict("records")
    recent = queries.recent_finished_pairs(ctx.engine, [(r["crm_source"], r["sync_type"]) for r in open_runs],
                                           ctx.now - timedelta(days=7), 50)
    medians: dict[tuple[str, str], float | None] = {}
    for pair, runs in recent.items():
        durations = runs["duration_seconds"].dropna()
        medians[pair] = float(statistics.median(durations)) if len(durations) >= rule["min_runs"] else None
    found = []
    for run in open_runs:
        pair = (run["crm_source"], run["sync_type"])
        elapsed = ctx.now - run["start_time"].to_pydatetime()
        median = medians.get(pair)
        limit = min(ceiling, timedelta(seconds=median * rule["factor"])) if median else ceiling
        if elapsed > limit:
            why = f"{rule['factor']:g}x its median of {_gap(timedelta(seconds=median))}" if median and limit < ceiling \
                else f"the {_gap(ceiling)} ceiling"
            found.append(Finding("stuck", f"{pair[0]}/{pair[1]} run {run['id']}", rule["severity"],
                                 f"{display.crm_name(pair[0])} {pair[1]}: run #{run['id']} has been running for "
                                 f"{_gap(elapsed)}, past {why}", round(elapsed.total_seconds(), 1)))
    return found


def _pairs(ctx: Context) -> pd.DataFrame:
    return queries.pair_stats(ctx.engine, ctx.now - timedelta(days=ctx.config["long_run"]["days"]))


def per_pair(ctx: Context) -> list[Finding]:
    """zero_records, records_drop and long_run, which all read a pair's recent runs."""
    zero, drop, long = ctx.config["zero_records"], ctx.config["records_drop"], ctx.config["long_run"]
    wanted = [name for name in ("zero_records", "records_drop", "long_run") if ctx.config.enabled(name)]
    if not wanted:
        return []
    found = []
    depth = max(int(zero["history"]), int(drop["runs"])) + 1
    pairs = _pairs(ctx).to_dict("records")
    recent = queries.recent_finished_pairs(ctx.engine, [(p["crm_source"], p["sync_type"]) for p in pairs],
                                           ctx.now - timedelta(days=HISTORY_DAYS), depth * 2)
    for pair in pairs:
        crm, kind = pair["crm_source"], pair["sync_type"]
        runs = recent.get((crm, kind))
        if runs is None or runs.empty:
            continue
        label = f"{display.crm_name(crm)} {kind}"
        latest = runs.iloc[0]
        records = runs["records_processed"].fillna(0).astype(float)
        if "zero_records" in wanted:
            before = records.iloc[1:int(zero["history"]) + 1]
            if latest["status"] == "success" and records.iloc[0] == 0 and len(before) == int(zero["history"]) \
                    and (before > 0).all():
                found.append(Finding("zero_records", f"{crm}/{kind}", zero["severity"],
                                     f"{label}: run #{latest['id']} succeeded with 0 records; the "
                                     f"{int(zero['history'])} runs before it all had records", 0.0))
        if "records_drop" in wanted:
            successes = records[runs["status"] == "success"]
            prior = successes.iloc[1:int(drop["runs"]) + 1]
            z = robust_z(float(successes.iloc[0]), list(prior)) if len(successes) and len(prior) >= drop["min_runs"] \
                else None
            if z is not None and z < drop["z"]:
                z = max(z, -99.0)  # no spread at all gives -inf: kept finite for storage and JSON
                usual = statistics.median(prior)
                found.append(Finding("records_drop", f"{crm}/{kind}", drop["severity"],
                                     f"{label}: the latest success processed {int(successes.iloc[0]):,} records, far "
                                     f"below the usual {usual:,.0f} (robust z {z:.1f})", round(z, 2)))
        timed = pair["avg_seconds"] is not None and not pd.isna(latest["duration_seconds"])
        if "long_run" in wanted and timed:
            took, mean = float(latest["duration_seconds"]), float(pair["avg_seconds"])
            if took > long["factor"] * mean and took - mean >= long["min_excess_minutes"] * 60:
                found.append(Finding("long_run", f"{crm}/{kind}", long["severity"],
                                     f"{label}: run #{latest['id']} took {_gap(timedelta(seconds=took))}, over "
                                     f"{long['factor']:g}x the {long['days']}-day average of "
                                     f"{_gap(timedelta(seconds=mean))}", round(took, 1)))
    return found


def robust_z(value: float, history: list[float]) -> float | None:
    """0.6745 (value - median) / MAD over ``history``; with no spread at all, -inf for a value
    under half the median (a drop) and 0 otherwise."""
    if not history:
        return None
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    if mad == 0:
        return float("-inf") if value < median / 2 else 0.0
    return 0.6745 * (value - median) / mad


def rate_limit(ctx: Context) -> list[Finding]:
    rule = ctx.config["rate_limit"]
    if not crm_api_usage.migrated(ctx.engine):
        return []
    limits = crm_api_usage.rate_limits(ctx.engine, ctx.now - timedelta(hours=1), ctx.now)
    found = []
    for row in limits.to_dict("records"):
        used, reset = row["percent_used"], row["reset_at"]
        if used is None or pd.isna(used) or used < rule["percent"]:
            continue
        if reset is not None and not pd.isna(reset) and reset.to_pydatetime() <= ctx.now:
            continue  # the window has reset since it was seen
        found.append(Finding("rate_limit", f"{row['crm_source']} {row['endpoint']}", rule["severity"],
                             f"{display.crm_name(row['crm_source'])} {row['endpoint']}: {used:.0f}% of the rate limit "
                             f"used ({row['remaining']} left)", round(float(used), 1)))
    return found


def breaker_open(ctx: Context) -> list[Finding]:
    rule = ctx.config["breaker_open"]
    if not crm_api_usage.migrated(ctx.engine):
        return []
    start = ctx.now - timedelta(days=1)
    summaries = crm_api_usage.breaker_summary(crm_api_usage.breaker_states(ctx.engine, start, ctx.now), start, ctx.now)
    return [Finding("breaker_open", s["breaker"], rule["severity"],
                    f"circuit breaker {s['breaker']} ({display.crm_name(s['crm_source'])}) is OPEN after "
                    f"{s['failure_count']} failures", float(s["failure_count"]))
            for s in summaries if s["state"] == "OPEN"]


def no_worker(ctx: Context) -> list[Finding]:
    celery = ctx.health().get("celery") or {}
    if celery.get("status") == "not_configured" or celery.get("active_workers") or not celery.get("pending_tasks"):
        return []
    return [Finding("no_worker", "celery", ctx.config["no_worker"]["severity"],
                    f"no Celery worker answers while {celery['pending_tasks']} tasks wait",
                    float(celery["pending_tasks"]))]


def service_down(ctx: Context) -> list[Finding]:
    """A service the health probe finds unhealthy. Its error names hosts and ports and an alert is
    read by anyone: the summary says only that it is down (the error is on /health for operators)."""
    snapshot = ctx.health()
    return [Finding("service_down", name, ctx.config["service_down"]["severity"],
                    f"{name} unavailable: an operator sees its error on /health")
            for name in ("database", "redis") if (snapshot.get(name) or {}).get("status") == "unhealthy"]


# rule name -> the function that evaluates it (per_pair evaluates three)
RULES: dict[str, Callable[[Context], list[Finding]]] = {
    "error_rate": error_rate, "success_rate": success_rate, "late": late, "stuck": stuck,
    "per_pair": per_pair, "rate_limit": rate_limit, "breaker_open": breaker_open, "no_worker": no_worker,
    "service_down": service_down,
}
COVERS = {"per_pair": ("zero_records", "records_drop", "long_run")}
