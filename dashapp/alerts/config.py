"""The alert rules' thresholds: defaults here, overridden by ALERT_RULES_FILE (YAML):

    rules:
      error_rate:   {threshold: 5, window_minutes: 60, min_runs: 10}     # critical over 5% failed
      success_rate: {threshold: 90, window_minutes: 60, min_runs: 10}    # warning under 90%
      late:         {warning_factor: 1, critical_factor: 2}              # firings missed (SLA: x the SLA)
      stuck:        {factor: 3, ceiling_minutes: 360, min_runs: 5}       # x the median duration
      zero_records: {history: 14}
      long_run:     {factor: 2, min_excess_minutes: 15, days: 7}
      records_drop: {runs: 30, z: -3.5, min_runs: 10}
      rate_limit:   {percent: 90}
      breaker_open: {}
      no_worker:    {}
      service_down: {}
      some_rule:    {enabled: false}                                    # any rule can be switched off
    sla:                      # per CRM: the longest acceptable gap between successes, instead of
      hubspot: 30m            # (or as well as) the sync_schedule interval; s, m, h or d
      gsheet: 1d
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

DEFAULTS: dict[str, dict[str, Any]] = {
    "error_rate": {"threshold": 5.0, "window_minutes": 60, "min_runs": 10, "severity": "critical"},
    "success_rate": {"threshold": 90.0, "window_minutes": 60, "min_runs": 10, "severity": "warning"},
    "late": {"warning_factor": 1.0, "critical_factor": 2.0},
    "stuck": {"factor": 3.0, "ceiling_minutes": 360, "min_runs": 5, "severity": "critical"},
    "zero_records": {"history": 14, "severity": "warning"},
    "long_run": {"factor": 2.0, "min_excess_minutes": 15, "days": 7, "severity": "warning"},
    "records_drop": {"runs": 30, "z": -3.5, "min_runs": 10, "severity": "warning"},
    "rate_limit": {"percent": 90.0, "severity": "warning"},
    "breaker_open": {"severity": "critical"},
    "no_worker": {"severity": "critical"},
    "service_down": {"severity": "critical"},
}
SEVERITIES = ("warning", "critical")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class AlertConfigError(ValueError):
    """The rules file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class AlertConfig:
    rules: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: dict(v) for k, v in DEFAULTS.items()})
    sla: dict[str, timedelta] = field(default_factory=dict)

    def enabled(self, rule: str) -> bool:
        return bool(self.rules[rule].get("enabled", True))

    def __getitem__(self, rule: str) -> dict[str, Any]:
        return self.rules[rule]


def parse_duration(value: object, where: str) -> timedelta:
    match = _DURATION.match(str(value))
    if not match:
        raise AlertConfigError(f"{where}: {value!r} is not a duration such as 30m, 2h or 1d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse(text: str, where: str) -> AlertConfig:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise AlertConfigError(f"{where}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or set(data) - {"rules", "sla"}:
        raise AlertConfigError(f"{where}: expected the keys rules and sla")
    rules = {k: dict(v) for k, v in DEFAULTS.items()}
    for name, values in (data.get("rules") or {}).items():
        if name not in DEFAULTS:
            raise AlertConfigError(f"{where}: unknown rule {name!r} (known: {', '.join(DEFAULTS)})")
        if not isinstance(values, dict):
            raise AlertConfigError(f"{where}: rules.{name} must be a mapping of settings")
        for key, value in values.items():
            if key == "enabled":
                if not isinstance(value, bool):
                    raise AlertConfigError(f"{where}: rules.{name}.enabled must be true or false")
            elif key == "severity":
                if value not in SEVERITIES:
                    raise AlertConfigError(f"{where}: rules.{name}.severity must be warning or critical")
            elif key not in DEFAULTS[name]:
                raise AlertConfigError(f"{where}: rules.{name} has no setting {key!r}")
            elif not isinstance(value, int | float) or isinstance(value, bool):
                raise AlertConfigError(f"{where}: rules.{name}.{key} must be a number")
            rules[name][key] = value
    sla = {str(crm): parse_duration(value, f"{where}: sla.{crm}") for crm, value in (data.get("sla") or {}).items()}
    return AlertConfig(rules, sla)


def load(path: Path | None) -> AlertConfig:
    if path is None:
        return AlertConfig()
    try:
        return parse(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise AlertConfigError(f"{path}: {exc.strerror}") from None
