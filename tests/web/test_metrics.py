"""``/metrics`` parsed by prometheus_client's own parser, with values computed from the rows the
test wrote."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from dashapp.storage.app_tables import alerts
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs

M = timedelta(minutes=1)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_from_written_rows(dash_app, use_engine, db):  # both table shapes and SQLite
    empty_app_tables(db)
    use_engine(db)
    now = utc_now()
    runs = insert_runs(db, [
        Run("hubspot", "contacts", "success", 3 * 60 * M, 3 * 60 * M - 2 * M, processed=100),
        Run("hubspot", "contacts", "success", 60 * M, 60 * M - 90 * timedelta(seconds=1), processed=40),
        Run("hubspot", "contacts", "failed", 30 * M, 29 * M, processed=5),
        Run("hubspot", "contacts", "running", 2 * M, None, processed=7),
        Run("callrail", "calls", "failed", 26 * 60 * M, 26 * 60 * M - M, processed=1),  # older than 24 h
    ], now)
    with db.begin() as conn:
        conn.execute(insert(alerts).values(rule="late", subject="callrail", severity="critical", summary="late",
                                           state="firing", fired_at=now.replace(tzinfo=None),
                                           last_seen_at=now.replace(tzinfo=None)))
    client = dash_app.server.test_client()
    client.get("/api/stats")
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain; version=")
    got = samples(answer.data.decode())
    pair = (("crm_source", "hubspot"), ("sync_type", "contacts"))
    assert got[("sync_monitor_up", ())] == 1
    assert abs(got[("sync_monitor_last_success_timestamp_seconds", pair)] - runs[1].start(now).timestamp()) < 1e-3
    assert got[("sync_monitor_last_success_duration_seconds", pair)] == 90.0
    for status, n in (("success", 2), ("failed", 1), ("running", 1)):
        assert got[("sync_monitor_runs_24h", tuple(sorted((*pair, ("status", status)))))] == n
    assert ("sync_monitor_runs_24h", (("crm_source", "callrail"), ("status", "failed"), ("sync_type", "calls"))) \
        not in got
    assert got[("sync_monitor_records_processed_24h", pair)] == 152
    assert got[("sync_monitor_active_syncs", pair)] == 1
    # each sync's state, as the overview has it: hubspot's latest run is running; callrail's failed
    assert got[("sync_monitor_sync_state", tuple(sorted((*pair, ("state", "running")))))] == 1
    calls = (("crm_source", "callrail"), ("sync_type", "calls"))
    assert got[("sync_monitor_sync_state", tuple(sorted((*calls, ("state", "failing")))))] == 1
    assert got[("sync_monitor_sync_overdue_seconds", calls)] == 0  # no schedule: nothing to be overdue by
    assert got[("sync_monitor_alerts_firing", (("rule", "late"), ("severity", "critical")))] == 1
    assert got[("sync_monitor_http_request_duration_seconds_count", (("kind", "api"),))] >= 1
