"""Times are values, not errors: rows with ±infinity, years 1, 999 and 9999, 1970 and the future
answer 200 on every JSON route, in the export and on /health, on both shapes of the table; each
figure is checked against SQL over the rows the test wrote."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from queries._sql import bind_time
from queries.clock import utc_now
from queries.time_bounds import EARLIEST, latest

# (status, start, end) as SQL; now() is the test's moment
ODD_ROWS = [
    ("success", "now() - interval '2 hours'", "'infinity'"),
    ("failed", "now() - interval '3 hours'", "'infinity'"),
    ("failed", "'-infinity'", "now() - interval '1 hour'"),
    ("success", "'0001-01-01 00:00'", "'0001-01-01 00:05'"),
    ("failed", "'0999-06-01 00:00'", "'0999-06-01 00:05'"),
    ("success", "'9999-12-31 22:00'", "'9999-12-31 23:00'"),
    ("success", "'1970-01-01 00:00'", "'1970-01-01 00:01'"),
    ("running", "now() + interval '3 days'", "NULL"),
    ("success", "'infinity'", "'infinity'"),
    ("success", "now() - interval '5 hours'", "now() - interval '4 hours 50 minutes'"),
    ("success", "now() - interval '6 hours'", "now() - interval '5 hours 30 minutes'"),
    ("failed", "now() - interval '7 hours'", "now() - interval '6 hours 58 minutes'"),
]
SHAPES = ["pg_engine", "deployed_engine"]


def _write(engine) -> list[int]:
    values = ", ".join(f"('hubspot', 'contacts', '{status}', {start}, {end})" for status, start, end in ODD_ROWS)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO orchestration.sync_history (crm_source, sync_type, status, start_time, end_time)"
                          f" VALUES {values}"))
        return [r[0] for r in conn.execute(text("SELECT id FROM orchestration.sync_history ORDER BY id"))]


def _sql_times(engine) -> dict[int, tuple[str | None, str | None, float | None]]:
    """Per run, its times as SQL writes them (ISO UTC to the microsecond, or 'infinity') and its
    duration (NULL when unknown)."""
    shown = ("CASE WHEN {c} IS NULL THEN NULL WHEN NOT isfinite({c}) THEN {c}::text ELSE "
             "to_char(({c}::timestamptz) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') END")
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, {shown.format(c='start_time')}, {shown.format(c='end_time')}, "
                                 "CASE WHEN isfinite(start_time) AND isfinite(end_time) "
                                 "THEN EXTRACT(EPOCH FROM end_time - start_time) END "
                                 "FROM orchestration.sync_history")).fetchall()
    return {r[0]: (r[1], r[2], None if r[3] is None else float(r[3])) for r in rows}


def _canonical(value: str | None) -> str | None:
    """An exported or JSON time in SQL's form above."""
    if value in (None, "", "infinity", "-infinity"):
        return value or None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


@pytest.fixture(params=SHAPES)
def engine(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def client(dash_app, use_engine, engine):
    use_engine(engine)
    return dash_app.server.test_client()


def test_every_json_route_answers_with_the_times_as_written(client, engine):
    ids = _write(engine)
    expected = _sql_times(engine)
    for path in ("/api/stats", "/api/crm-status", "/api/recent-syncs?limit=100", "/api/performance-charts?days=30",
                 "/api/performance-charts?days=30&crm_source=hubspot&sync_type=contacts", "/api/errors?days=30",
                 "/api/system-health", "/readyz"):
        assert client.get(path).status_code == 200, path
    syncs = {s["id"]: s for s in client.get("/api/recent-syncs?limit=100").get_json()["syncs"]}
    assert set(syncs) == set(ids)
    for run_id in ids:
        body = client.get(f"/api/runs/{run_id}")
        assert body.status_code == 200, run_id
        run = body.get_json()["run"]
        start, end, seconds = expected[run_id]
        for shown in (run, syncs[run_id]):
            assert (_canonical(shown["start_time"]), _canonical(shown["end_time"])) == \
                (start[:19] + ".000000" if start[0].isdigit() else start,
                 None if end is None else end[:19] + ".000000" if end[0].isdigit() else end)
            if seconds is None and shown["status_class"] != "running":
                assert shown["duration_seconds"] is None
            elif seconds is not None:
                assert shown["duration_seconds"] == pytest.approx(seconds, abs=1e-3)
    years = {s["start_time"][:4] for s in syncs.values()}
    assert {"0001", "0999", "9999", "1970", "infi", "-inf"} <= years


def test_the_export_in_every_format_parses_back_to_the_rows_sql_holds(client, engine):
    _write(engine)
    expected = _sql_times(engine)
    csv_answer = client.get("/export/sync-history.csv?range=all")
    ndjson_answer = client.get("/export/sync-history.csv?range=all&format=ndjson")
    assert csv_answer.status_code == ndjson_answer.status_code == 200
    from_csv = {int(r["id"]): r for r in csv.DictReader(io.StringIO(csv_answer.get_data(as_text=True)))}
    from_ndjson = {r["id"]: r for r in map(json.loads, ndjson_answer.get_data(as_text=True).splitlines())}
    # read first: a client may run 2 exports at once (dashapp/web/export_limits.py)
    assert client.get("/export/sync-history.csv?range=all&format=xlsx").status_code == 200
    assert set(from_csv) == set(from_ndjson) == set(expected)
    for run_id, (start, end, seconds) in expected.items():
        for row in (from_csv[run_id], from_ndjson[run_id]):
            assert (_canonical(row["start_time"]), _canonical(row["end_time"])) == (start, end)
            duration = row["duration_seconds"]
            if seconds is None:
                assert duration in (None, "")
            else:
                assert float(duration) == pytest.approx(seconds, abs=1e-3)


def _impossible_ids(engine, now: datetime) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id FROM orchestration.sync_history WHERE start_time < :low "
                                 "OR start_time > :high ORDER BY id"),
                            {"low": bind_time(conn, EARLIEST), "high": bind_time(conn, latest(now))}).fetchall()
    return [r[0] for r in rows]


def test_health_counts_and_lists_the_runs_at_impossible_times_and_the_history_shows_them(client, engine):
    _write(engine)
    now = utc_now()
    impossible = _impossible_ids(engine, now)
    assert len(impossible) == 7  # -infinity, years 1, 999, 9999, 1970, in 3 days, infinity
    from dashapp.auth import disclosure

    found = client.get("/api/system-health").get_json()["impossible_times"]
    assert found["count"] == len(impossible) and found["count_exact"] is True
    assert "runs" not in found and "history_link" not in found  # anonymous: the count only
    from dashapp import runtime
    from dashapp.health import probes

    full = probes.impossible_times(runtime.engine())
    assert sorted(r["id"] for r in full["runs"]) == impossible
    assert full["status"] == "degraded" and full["history_link"] == "/history?times=impossible"
    assert disclosure.shown_health({"impossible_times": full})["impossible_times"]["count"] == len(impossible)
    listed = client.get("/export/sync-history.csv?times=impossible&format=ndjson").get_data(as_text=True)
    assert sorted(json.loads(line)["id"] for line in listed.splitlines()) == impossible
    assert client.get("/export/sync-history.csv?times=sometimes").status_code == 400


def test_performance_and_errors_count_finite_runs_and_leave_unknown_durations_out(client, engine):
    _write(engine)
    charts = client.get("/api/performance-charts?days=30").get_json()
    errors = client.get("/api/errors?days=30").get_json()
    window = errors["start"]
    with engine.connect() as conn:
        start = bind_time(conn, datetime.fromisoformat(window.replace("Z", "+00:00")))
        now = bind_time(conn, utc_now())
        runs, failed, median = conn.execute(text(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'failed'), "
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM end_time - start_time)) "
            "FILTER (WHERE status = 'success' AND isfinite(end_time)) "
            "FROM orchestration.sync_history WHERE start_time >= :start AND start_time < :now"),
            {"start": start, "now": now}).one()
    assert sum(charts["sync_frequency"]["data"]) == runs == 5
    rates = {r["crm_source"]: r for r in errors["crm_failure_rates"]}
    assert rates["hubspot"]["failed"] == failed == 2  # the failed run that never ended counts as failed
    medians = [v for v in charts["sync_duration_trend"]["data"] if v is not None]
    assert medians and all(v < 86400 for v in medians)
    if len(charts["sync_duration_trend"]["labels"]) == 1:  # the window's runs fell on one UTC day
        assert medians[0] == pytest.approx(float(median), abs=1e-3)
