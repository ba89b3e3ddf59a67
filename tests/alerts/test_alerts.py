"""Each alert rule on crafted rows (fires, stays quiet, resolves), de-duplication across
evaluations and escalation, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from dashapp.alerts import evaluation as alerts
from dashapp.config import load_settings
from dashapp.storage.app_tables import alerts as alert_table
from dashapp.storage.app_tables import api_calls, breaker_events
from dashapp.storage.sync_tables import sync_history
from queries import alerts as alert_queries
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs, insert_schedules

M = timedelta(minutes=1)


def settings_with(tmp_path, rules: str | None = None):
    env = {"SQLITE_PATH": str(tmp_path / "x.sqlite3"), "HEALTH_CACHE_SECONDS": "0"}
    if rules is not None:
        path = tmp_path / "rules.yaml"
        path.write_text(rules)
        env["ALERT_RULES_FILE"] = str(path)
    return load_settings(env)


@pytest.fixture
def env(db, tmp_path):
    empty_app_tables(db)
    return settings_with(tmp_path)


def run(crm, kind, status, started_ago, minutes=5.0, records=100):
    ended = started_ago - timedelta(minutes=minutes) if status != "running" else None
    return Run(crm, kind, status, started_ago, ended, processed=records)


def firing(db) -> dict[tuple[str, str], dict]:
    with db.connect() as conn:
        rows = conn.execute(select(alert_table).where(alert_table.c.state == "firing")).mappings().all()
    return {(r["rule"], r["subject"]): dict(r) for r in rows}


def every_alert(db) -> list[dict]:
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(select(alert_table).order_by(alert_table.c.id)).mappings()]


def test_error_and_success_rates_fire_once_and_resolve(db, env):
    now = utc_now()
    insert_runs(db, [run("ratecrm", "contacts", "failed" if i < 2 else "success", (i + 1) * 5 * M) for i in range(10)]
                + [run("finecrm", "contacts", "success", (i + 1) * 5 * M) for i in range(10)], now)
    first = alerts.evaluate(db, env, now)
    assert sorted(first.fired) == ["error_rate:ratecrm", "success_rate:ratecrm"]
    found = firing(db)
    assert found[("error_rate", "ratecrm")]["severity"] == "critical"
    assert found[("error_rate", "ratecrm")]["value"] == 20.0
    assert "20.0% of 10 runs failed" in found[("error_rate", "ratecrm")]["summary"]
    success = found[("success_rate", "ratecrm")]
    assert success["severity"] == "warning" and success["value"] == 80.0

    again = alerts.evaluate(db, env, now + M)  # de-duplicated: the same two alerts, seen again
    assert again.fired == [] and again.firing == 2 and len(every_alert(db)) == 2
    assert firing(db)[("error_rate", "ratecrm")]["last_seen_at"] > found[("error_rate", "ratecrm")]["last_seen_at"]

    later = alerts.evaluate(db, env, now + 2 * 60 * M)  # the runs have left the window
    assert sorted(later.resolved) == ["error_rate:ratecrm", "success_rate:ratecrm"]
    # two hours without the runs that came every 5 min: both CRMs are late by their estimate now
    assert set(firing(db)) == {("late", "ratecrm"), ("late", "finecrm")}
    assert {a["resolved_by"] for a in every_alert(db) if a["rule"] != "late"} == {"auto"}


def test_late_warns_past_the_grace_escalates_at_two_missed_firings_and_resolves_on_a_run(db, env, tmp_path):
    env = settings_with(tmp_path, "sla:\n  slacrm: 30m\n")
    now = utc_now()
    insert_schedules(db, [{"crm_source": "latecrm", "recurrence_type": "interval", "every": 10, "period": "minutes"},
                          {"crm_source": "ontime", "recurrence_type": "interval", "every": 10, "period": "minutes"}],
                     now)
    insert_runs(db, [run("latecrm", "contacts", "success", 17 * M), run("ontime", "contacts", "success", 4 * M),
                     run("slacrm", "contacts", "success", 20 * M)], now)
    first = alerts.evaluate(db, env, now)
    assert first.fired == ["late:latecrm"]  # slacrm: 20 min against its 30 min SLA
    alert = firing(db)[("late", "latecrm")]
    assert alert["severity"] == "warning"  # due 7 min ago, past the 5 min grace: one firing missed
    assert alert["summary"].startswith("latecrm contacts: overdue by 7 min; its schedule was due at ")
    assert "(schedule #1, every 10 minutes); no run since" in alert["summary"]
    assert alert["value"] == pytest.approx(7 * 60, abs=1)

    second = alerts.evaluate(db, env, now + 12 * M)  # the firings 19 and 9 min before: two missed
    assert second.escalated == ["late:latecrm"] and firing(db)[("late", "latecrm")]["severity"] == "critical"
    assert ("late", "slacrm") in firing(db)  # 30 min and more: past its SLA now
    assert len([a for a in every_alert(db) if a["rule"] == "late" and a["subject"] == "latecrm"]) == 1

    insert_runs(db, [run("latecrm", "contacts", "success", 0 * M, minutes=0)], now + 13 * M)
    third = alerts.evaluate(db, env, now + 14 * M)
    assert "late:latecrm" in third.resolved


def test_a_run_stuck_past_three_medians_or_the_ceiling(db, env):
    now = utc_now()
    history = [run("stuckcrm", "contacts", "success", (i + 2) * 60 * M, minutes=5) for i in range(6)]
    rows = insert_runs(db, history + [run("stuckcrm", "contacts", "running", 50 * M),
                                      run("stuckcrm", "deals", "running", 7 * 60 * M),
                                      run("freshcrm", "contacts", "running", 2 * M)], now)
    first = alerts.evaluate(db, env, now)
    subjects = sorted(s for r, s in firing(db) if r == "stuck")
    assert subjects == [f"stuckcrm/contacts run {rows[6].id}", f"stuckcrm/deals run {rows[7].id}"]
    assert "past 3x its median of 5 min" in firing(db)[("stuck", subjects[0])]["summary"]
    assert "past the 6 h ceiling" in firing(db)[("stuck", subjects[1])]["summary"]
    assert len(first.fired) == 2
    with db.begin() as conn:  # the first one finishes
        conn.execute(update(sync_history).where(sync_history.c.id == rows[6].id)
                     .values(status="success", end_time=sync_history.c.start_time))
    assert alerts.evaluate(db, env, now + M).resolved == [f"stuck:{subjects[0]}"]


def test_zero_records_drop_and_long_run_on_a_pairs_recent_runs(db, env):
    now = utc_now()
    steady = [run("zerocrm", "contacts", "success", (i + 2) * 60 * M, records=100 + i) for i in range(14)]
    spiky = [run("quietzero", "contacts", "success", (i + 2) * 60 * M, records=0 if i == 3 else 50) for i in range(14)]
    drops = [run("dropcrm", "contacts", "success", (i + 2) * 60 * M, records=1000 + (i % 5) * 20) for i in range(20)]
    slow = [run("slowcrm", "contacts", "success", (i + 2) * 60 * M, minutes=10) for i in range(10)]
    insert_runs(db, steady + spiky + drops + slow, now)
    insert_runs(db, [run("zerocrm", "contacts", "success", 30 * M, records=0),
                     run("quietzero", "contacts", "success", 30 * M, records=0),
                     run("dropcrm", "contacts", "success", 30 * M, records=100),
                     run("slowcrm", "contacts", "success", 70 * M, minutes=40)], now)
    alerts.evaluate(db, env, now)
    found = firing(db)
    per_pair = {(r, s) for r, s in found if r in ("zero_records", "records_drop", "long_run")}
    assert per_pair == {("zero_records", "zerocrm/contacts"), ("records_drop", "dropcrm/contacts"),
                        ("long_run", "slowcrm/contacts"), ("records_drop", "zerocrm/contacts"),
                        ("records_drop", "quietzero/contacts")}  # zero_records stays quiet there: a 0 in its past
    assert "succeeded with 0 records; the 14 runs before it all had records" in \
        found[("zero_records", "zerocrm/contacts")]["summary"]
    assert found[("records_drop", "dropcrm/contacts")]["value"] < -3.5
    assert "took 40 min" in found[("long_run", "slowcrm/contacts")]["summary"]

    insert_runs(db, [run("zerocrm", "contacts", "success", 5 * M, records=120),
                     run("dropcrm", "contacts", "success", 5 * M, records=1010),
                     run("slowcrm", "contacts", "success", 20 * M, minutes=10)], now)
    resolved = alerts.evaluate(db, env, now + M).resolved
    assert sorted(resolved) == ["long_run:slowcrm/contacts", "records_drop:dropcrm/contacts",
                                "records_drop:zerocrm/contacts", "zero_records:zerocrm/contacts"]


def test_rate_limit_and_open_breaker(db, env):
    now = utc_now()
    naive = now.replace(tzinfo=None)
    with db.begin() as conn:
        conn.execute(insert(api_calls), [
            {"called_at": naive - M, "crm_source": "hubspot", "endpoint": "/contacts", "method": "GET",
             "status_code": 200, "duration_ms": 10.0, "retries": 0, "rate_limit_limit": 100,
             "rate_limit_remaining": 5, "rate_limit_reset_at": naive + 10 * M},
            {"called_at": naive - M, "crm_source": "hubspot", "endpoint": "/deals", "method": "GET",
             "status_code": 200, "duration_ms": 10.0, "retries": 0, "rate_limit_limit": 100,
             "rate_limit_remaining": 50, "rate_limit_reset_at": naive + 10 * M},
            {"called_at": naive - 20 * M, "crm_source": "callrail", "endpoint": "/calls", "method": "GET",
             "status_code": 429, "duration_ms": 10.0, "retries": 0, "rate_limit_limit": 100,
             "rate_limit_remaining": 0, "rate_limit_reset_at": naive - 10 * M},  # reset since
        ])
        conn.execute(insert(breaker_events), [
            {"occurred_at": naive - 2 * M, "breaker": "hubspot-contacts", "crm_source": "hubspot",
             "from_state": "CLOSED", "to_state": "OPEN", "failure_count": 3, "reason": "3 failures"},
            {"occurred_at": naive - 2 * M, "breaker": "five9-calls", "crm_source": "five9",
             "from_state": "HALF_OPEN", "to_state": "CLOSED", "failure_count": 0, "reason": "ok"},
        ])
    alerts.evaluate(db, env, now)
    found = firing(db)
    assert set(found) == {("rate_limit", "hubspot /contacts"), ("breaker_open", "hubspot-contacts")}
    assert found[("rate_limit", "hubspot /contacts")]["value"] == 95.0
    with db.begin() as conn:
        conn.execute(insert(breaker_events).values(
            occurred_at=naive, breaker="hubspot-contacts", crm_source="hubspot", from_state="OPEN",
            to_state="HALF_OPEN", failure_count=3, reason="cool-down over"))
    assert alerts.evaluate(db, env, now + M).resolved == ["breaker_open:hubspot-contacts"]


def test_a_disabled_rule_and_a_bad_rules_file(db, env, tmp_path):
    from dashapp.alerts.config import AlertConfigError, parse

    now = utc_now()
    insert_runs(db, [run("ratecrm", "contacts", "failed", (i + 1) * 5 * M) for i in range(10)], now)
    settings = settings_with(tmp_path, "rules:\n  error_rate: {enabled: false}\n"
                                       "  success_rate: {threshold: 50, min_runs: 3}\n")
    assert alerts.evaluate(db, settings, now).fired == ["success_rate:ratecrm"]
    for text, problem in (("rules:\n  nope: {}\n", "unknown rule 'nope'"),
                          ("rules:\n  late: {warning_factor: x}\n", "late.warning_factor must be a number"),
                          ("sla:\n  hubspot: soon\n", "not a duration"), ("rules: [\n", "not YAML")):
        with pytest.raises(AlertConfigError, match=problem):
            parse(text, "rules.yaml")


def test_recent_finished_runs_of_many_pairs_in_one_read_equal_each_pairs_own(db):
    """The per-pair rules read every pair's newest finished runs at once (one statement on
    PostgreSQL); each pair's rows are exactly what its own query gives, running runs left out."""
    now = utc_now()
    rows = [run(crm, kind, status, (i + 1) * 7 * M, records=i)
            for crm in ("paira", "pairb") for kind in ("contacts", "deals")
            for i, status in enumerate(["success", "failed", "running", "partial", "success", "success"])]
    insert_runs(db, rows, now)
    pairs = [("paira", "contacts"), ("pairb", "deals"), ("paira", "deals"), ("nobody", "contacts"),
             ("paira", "contacts")]
    found = alert_queries.recent_finished_pairs(db, pairs, now - timedelta(hours=1), 3)
    assert list(found) == [("paira", "contacts"), ("pairb", "deals"), ("paira", "deals"), ("nobody", "contacts")]
    for pair, frame in found.items():
        own = alert_queries.recent_finished(db, *pair, now - timedelta(hours=1), 3)
        assert list(frame["id"]) == list(own["id"]), pair
        assert list(frame["status"]) == list(own["status"])
    expected = [r.id for r in rows if (r.crm_source, r.sync_type) == ("paira", "contacts") and r.status != "running"]
    assert list(found[("paira", "contacts")]["id"]) == expected[:3]  # newest first
    assert found[("nobody", "contacts")].empty
