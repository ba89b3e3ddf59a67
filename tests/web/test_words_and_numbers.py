"""Every word and number right. Plurals, one full stop after an error class, a
success rate of "—" before any run has finished, uptimes in days and hours, and a bell that counts
only the firing alerts nobody has acknowledged. Rows are the test's own, in real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashapp import display
from dashapp.alerts import actions as alert_actions
from dashapp.alerts import evaluation as alerts
from dashapp.auth.users import User
from dashapp.payloads import alerts as alert_payloads
from dashapp.payloads import runs as run_payloads
from dashapp.web.components import health_strip
from dashapp.web.components.alert_bell import bell
from dashapp.web.pages.overview import overview_cards
from dashapp.web.pages.runs import _changed
from queries.alerts import alert_list
from queries.clock import utc_now
from queries.overview import overview_counts
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs, insert_schedules
from tests.support.users_files import users_file

M = timedelta(minutes=1)


def texts(component) -> list[str]:
    """Every string in a Dash component tree, in order."""
    if isinstance(component, str | int | float):
        return [str(component)]
    if isinstance(component, list | tuple):
        return [t for child in component for t in texts(child)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


@pytest.mark.parametrize(("n", "word", "shown"), [
    (0, "run", "0 runs"), (1, "run", "1 run"), (2, "run", "2 runs"), (1250, "matching run", "1,250 matching runs"),
    (1, "matching run", "1 matching run"),
])
def test_counts_take_their_plural(n, word, shown):
    assert display.plural(n, word) == shown


@pytest.mark.parametrize(("seconds", "shown"), [
    (42, "42 s"), (35 * 60, "35 min"), (2 * 3600 + 5 * 60, "2 h 5 min"), (3 * 86400 + 4 * 3600 + 59, "3 d 4 h"),
    (86400, "1 d"), (None, "—"),
])
def test_uptimes_read_in_days_hours_and_minutes(seconds, shown):
    assert health_strip.uptime(seconds) == shown


def test_the_health_cards_show_uptime_in_words_not_seconds():
    snapshot = {"app": {"status": "healthy", "uptime_seconds": 3 * 86400 + 4 * 3600 + 12},
                "celery": {"status": "healthy", "workers": [{"name": "w1@host", "active": 0, "reserved": 0,
                                                             "scheduled": 0, "concurrency": 2,
                                                             "uptime_seconds": 7500}]}}
    shown = " | ".join(texts(health_strip.details(snapshot)))
    assert "uptime | 3 d 4 h" in shown and "2 h 5 min" in shown
    assert "uptime (s)" not in shown and "uptime s" not in shown and "7500" not in shown


def test_success_rate_is_a_dash_before_any_run_has_finished(pg_engine):
    now = utc_now()
    insert_runs(pg_engine, [Run("hubspot", "contacts", "running", 5 * M, None),
                            Run("hubspot", "deals", "partial", 30 * M, 29 * M, processed=10, failed=2)], now)
    counts = overview_counts(pg_engine, now).as_dict()
    assert counts["success_rate"] is None and counts["partial_today"] == 1  # a partial run is not a finished one
    card = overview_cards(counts, None)[4]
    assert "—" in texts(card) and "0.00%" not in texts(card)

    insert_runs(pg_engine, [Run("hubspot", "contacts", "success", 20 * M, 19 * M, processed=5),
                            Run("hubspot", "contacts", "failed", 10 * M, 9 * M, error="boom")], now)
    counts = overview_counts(pg_engine, now).as_dict()
    assert counts["success_rate"] == 50.0
    assert "50.00%" in texts(overview_cards(counts, None)[4])


def test_card_subtitles_wrap_instead_of_being_cut(pg_engine):
    now = utc_now()
    insert_runs(pg_engine, [Run("hubspot", "deals", "partial", 30 * M, 29 * M, processed=10, failed=2)], now)
    partial = overview_cards(overview_counts(pg_engine, now).as_dict(), None)[3]
    detail = partial.children.children.children[2]  # the column, the card, its body: label, value, detail
    assert detail.id == "stat-partial-detail" and "text-truncate" not in detail.className
    assert detail.children.startswith("100.00% of finished runs")


def test_an_error_class_ending_in_a_full_stop_gets_no_second_one(pg_engine):
    now = utc_now()
    message = 'duplicate key value violates unique constraint "genius_pkey" DETAIL: Key (id)=(88412) already exists.'
    runs = insert_runs(pg_engine, [Run("genius", "appointments", "success", 40 * M, 39 * M, processed=5),
                                   Run("genius", "appointments", "failed", 30 * M, 29 * M, error=message),
                                   Run("genius", "appointments", "failed", 20 * M, 19 * M, error=message)], now)
    page = run_payloads.run_page.__wrapped__(pg_engine, runs[-1].id, now)
    shown = "".join(texts(_changed(page, "UTC")))
    assert "already exists. Last success:" in shown and ".." not in shown
    assert "1 run between it and this one." in shown  # the failure before it


@pytest.fixture
def two_alerts(use_engine, pg_engine, tmp_path):
    """latecrm late (its schedule every 10 minutes, last run 25 minutes ago), ratecrm failing."""
    empty_app_tables(pg_engine)
    users = users_file(tmp_path / "users.json", ("alice", "operator", "correct horse battery"))
    use_engine(pg_engine, AUTH_USERS_FILE=str(users))
    now = utc_now()
    insert_schedules(pg_engine, [{"crm_source": "latecrm", "recurrence_type": "interval", "every": 10,
                                  "period": "minutes"}], now)
    insert_runs(pg_engine, [Run("latecrm", "contacts", "success", 25 * M, 24 * M, processed=10)]
                + [Run("ratecrm", "calls", "failed", (i + 1) * 3 * M, (i + 1) * 3 * M - M, error="502")
                   for i in range(10)], now)
    from dashapp import runtime

    settings = runtime.settings()
    alerts.evaluate(pg_engine, settings)
    return settings


def test_the_bell_counts_firing_alerts_nobody_has_acknowledged(two_alerts, pg_engine):
    firing = alert_list(pg_engine, ("firing",)).to_dict("records")
    assert len(firing) >= 2
    severities = {r["id"]: r["severity"] for r in firing}
    assert bell(alert_payloads.firing_counts(pg_engine))[0] == str(len(firing))

    acked = next(r for r in firing if r["rule"] == "late")
    alice = User("alice", "operator", "session")
    outcome = alert_actions.act(two_alerts, pg_engine, alice, int(acked["id"]), "acknowledge")
    assert outcome.status == 200
    counts = alert_payloads.firing_counts(pg_engine)
    assert counts["acknowledged"] == {severities[acked["id"]]: 1}
    count, colour, title = bell(counts)
    waiting = [r for r in firing if r["id"] != acked["id"]]
    assert count == str(len(waiting))
    assert title == f"{display.plural(len(waiting), 'firing alert')} not yet acknowledged; 1 more firing, acknowledged"
    assert colour == ("danger" if any(r["severity"] == "critical" for r in waiting) else "warning")


def test_a_bell_with_only_acknowledged_alerts_reads_zero_in_grey():
    assert bell({"unacknowledged": {}, "acknowledged": {"critical": 2}}) == (
        "0", "secondary", "0 firing alerts not yet acknowledged; 2 more firing, acknowledged")
    assert bell({"unacknowledged": {}, "acknowledged": {}}) == ("0", "success", "0 firing alerts not yet acknowledged")
