"""Whatever value the warehouse holds, on both table shapes (documented: naive
``timestamp``; deployed: ``timestamptz``), the app keeps its promises:

- the rollup build (``python app.py db upgrade``) and a refresh succeed, and the rollups
  (``run_hours``, ``run_days``, ``error_hours``) equal a raw SQL GROUP BY over the runs at possible
  times (start_time from 2000-01-01 to the rollups' ``covered_until``) per CRM, sync type and status
  class (``queries.outcomes.class_case``), text byte-exact; a run with an infinite or missing end
  counts in ``runs`` but not in ``duration_count``/``duration_sum``;
- every route of ``dashapp/web/routes.py`` answers below 500, to an operator and to an anonymous
  user, before and after the rollups exist; a CRM's ``name`` never re-cases a value it does not know;
- the export (CSV and NDJSON) parses back to SQL's rows: ids, text exact (the CSV's formula quote
  taken off), record counts, times, durations (unknown for an infinite or missing end);
- ``/metrics`` passes ``promtool check metrics`` with no problem printed.

Rows come from ``tests/properties/warehouse_values.py``. Each example starts from an empty
``sync_history`` and empty app tables. ``test_known_defects`` runs each check on named hard values
(KNOWN_DEFECTS; not ``@example``s of the property tests: a failing explicit example stops hypothesis
before it draws anything).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from dashapp.auth import sign_in_limit
from dashapp.auth.users import add_user
from dashapp.storage import rollups
from dashapp.storage.app_tables import metadata as app_metadata
from dashapp.web.routes import ROUTES
from queries import outcomes
from queries._sql import app_db, app_table
from queries.clock import utc_now
from queries.history import EXPORT_COLUMNS, EXPORT_TEXT_COLUMNS, FORMULA_STARTS
from tests.conftest import CI, empty_app_tables
from tests.properties.warehouse_values import CUT_OFF, RECORD_COLUMNS, Moment, insert, row, runs

pytestmark = pytest.mark.slow  # hypothesis examples over every route, export and rollup: minutes
PASSWORD = "any value, any shape"
SHAPES = ("documented", "deployed")
PROPERTY_SETTINGS = settings(max_examples=25, derandomize=True, deadline=None, print_blob=True,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])
HOUR = timedelta(hours=1)
INFINITE_END = Moment(infinite="infinity")


@dataclass
class Warehouse:
    """One table shape's database, emptied per example, and clients of the app pointed at it."""

    shape: str
    engine: Engine
    operator: object  # flask test clients
    anonymous: object

    @property
    def aware(self) -> bool:
        return self.shape == "deployed"

    def write(self, rows: list[dict]) -> tuple[datetime, list[int]]:
        """An empty warehouse holding ``rows``; returns the example's now and their ids."""
        from dashapp.payloads.day_cache import DAYS

        with self.engine.begin() as conn:
            conn.execute(text("TRUNCATE orchestration.sync_history RESTART IDENTITY"))
        with app_db(self.engine).begin() as conn:
            for table in reversed(app_metadata.sorted_tables):
                conn.execute(table.delete())
        DAYS.clear()
        now = utc_now()
        return now, insert(self.engine, rows, now, self.aware)

    def bind_time(self, moment: datetime) -> tuple[str, datetime]:
        """A naive UTC moment as this shape's SQL literal placeholder and value."""
        return ("%s::timestamptz", moment.replace(tzinfo=UTC)) if self.aware else ("%s::timestamp", moment)

    def query(self, statement: str, parameters: tuple = ()) -> list[tuple]:
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(statement, parameters)
            return cursor.fetchall()
        finally:
            connection.close()


@pytest.fixture(params=SHAPES)
def warehouse(request, dash_app, use_engine, redis_url, tmp_path) -> Iterator[Warehouse]:
    engine = request.getfixturevalue("pg_engine" if request.param == "documented" else "deployed_engine")
    empty_app_tables(engine)
    users = tmp_path / "users.json"
    add_user(users, "alice", "operator", PASSWORD)
    use_engine(engine, AUTH_USERS_FILE=str(users), CELERY_BROKER_URL=redis_url,
               CELERY_QUEUES=f"sm_lane_f_{uuid.uuid4().hex[:8]}", HEALTH_CACHE_SECONDS="0")
    sign_in_limit.LOCAL.clear()
    operator = dash_app.server.test_client()
    signed_in = operator.post("/auth/sign-in", data={"username": "alice", "password": PASSWORD, "next": "/"})
    assert signed_in.status_code in (302, 303), signed_in.get_data(as_text=True)[:300]
    yield Warehouse(request.param, engine, operator, dash_app.server.test_client())
    sign_in_limit.LOCAL.clear()


def any_rows(shape: str) -> st.SearchStrategy[list[dict]]:
    return st.lists(runs(shape), min_size=1, max_size=5)


# -- the rollups ---------------------------------------------------------------------------------

PROGRESS = re.compile(r"runs up to (\d{4,})-(\d\d)-(\d\d) (\d\d):00 UTC")


def build_and_refresh(engine: Engine, now: datetime) -> datetime:
    """``app.py db upgrade``'s build, then one refresh; returns the rollups' covered_until. The
    build may not walk hours before 2000-01-01 (no run there is in the rollups): on today's code a
    start in year 1500 walks 500 years a day at a time, for hours; the guard stops it at once."""

    def progress(line: str) -> None:
        found = PROGRESS.search(line)
        if found and datetime(*map(int, found.groups())) < CUT_OFF:  # type: ignore[arg-type]
            raise AssertionError(f"the rollup build walks hours before 2000-01-01: {line!r}")

    rollups.build(engine, now, progress=progress)
    rollups.refresh(engine, now)
    covered = rollups.state(engine)["covered_until"]
    assert covered is not None, "the rollups cover nothing after a build and a refresh"
    return covered


def raw_totals(warehouse: Warehouse, covered_until: datetime) -> dict[tuple, tuple]:
    """Per (crm_source, sync_type, status class): runs, the four record sums, the runs with a
    known duration and their seconds, over runs started in [2000-01-01, covered_until)."""
    low, low_value = warehouse.bind_time(CUT_OFF)
    high, high_value = warehouse.bind_time(covered_until)
    known = "end_time IS NOT NULL AND isfinite(end_time) AND isfinite(start_time)"
    rows = warehouse.query(f"""
        SELECT crm_source, sync_type, COALESCE({outcomes.class_case(warehouse.engine)}, 'unknown'), COUNT(*),
               {', '.join(f'COALESCE(SUM({c}), 0)' for c in RECORD_COLUMNS)},
               COUNT(*) FILTER (WHERE {known}),
               COALESCE(EXTRACT(EPOCH FROM SUM(end_time - start_time) FILTER (WHERE {known})), 0)::float8
        FROM orchestration.sync_history WHERE start_time >= {low} AND start_time < {high}
        GROUP BY 1, 2, 3""", (low_value, high_value))
    return {tuple(r[:3]): (*map(int, r[3:9]), float(r[9])) for r in rows}


def rollup_totals(warehouse: Warehouse, name: str) -> dict[tuple, tuple]:
    """The same figures summed over one rollup table."""
    with app_db(warehouse.engine).connect() as conn:
        rows = conn.execute(text(f"""
            SELECT crm_source, sync_type, status_class, SUM(runs),
                   {', '.join(f'SUM({c})' for c in RECORD_COLUMNS)}, SUM(duration_count), SUM(duration_sum)
            FROM {app_table(conn, name)} GROUP BY 1, 2, 3""")).all()
    return {tuple(r[:3]): (*map(int, r[3:9]), float(r[9])) for r in rows}


def assert_same_totals(raw: dict[tuple, tuple], rolled: dict[tuple, tuple], name: str) -> None:
    assert sorted(rolled, key=repr) == sorted(raw, key=repr), f"{name}: keys differ from raw SQL's"
    for key, figures in raw.items():
        assert rolled[key][:-1] == figures[:-1], f"{name} {key!r}: {rolled[key][:-1]} != raw SQL's {figures[:-1]}"
        assert abs(rolled[key][-1] - figures[-1]) <= 1e-3 + 1e-9 * abs(figures[-1]), \
            f"{name} {key!r}: duration_sum {rolled[key][-1]} != raw SQL's {figures[-1]}"


def assert_error_hours_match(warehouse: Warehouse, covered_until: datetime) -> None:
    """error_hours: the failed and partial runs at possible times, each sample one of their
    messages' first 500 characters, byte-exact."""
    low, low_value = warehouse.bind_time(CUT_OFF)
    high, high_value = warehouse.bind_time(covered_until)
    engine = warehouse.engine
    (failed, partial), = warehouse.query(f"""
        SELECT COUNT(*) FILTER (WHERE {outcomes.in_class(engine, 'failed')}),
               COUNT(*) FILTER (WHERE {outcomes.in_class(engine, 'partial')})
        FROM orchestration.sync_history WHERE start_time >= {low} AND start_time < {high}""", (low_value, high_value))
    messages = {m for (m,) in warehouse.query(f"""
        SELECT SUBSTR(error_message, 1, 500) FROM orchestration.sync_history
        WHERE start_time >= {low} AND start_time < {high} AND {outcomes.in_class(engine, 'failed', 'partial')}""",
        (low_value, high_value))}
    with app_db(engine).connect() as conn:
        name = app_table(conn, "error_hours")
        rolled_failed, rolled_partial, rolled_runs = conn.execute(text(
            f"SELECT COALESCE(SUM(failed), 0), COALESCE(SUM(partial), 0), COALESCE(SUM(runs), 0) FROM {name}")).one()
        samples = {s for (s,) in conn.execute(text(f"SELECT sample FROM {name}"))}
    assert (rolled_failed, rolled_partial, rolled_runs) == (failed, partial, failed + partial)
    assert samples <= messages, f"error_hours samples not in raw SQL's messages: {samples - messages!r}"


def check_rollups(warehouse: Warehouse, rows: list[dict]) -> None:
    now, _ = warehouse.write(rows)
    covered = build_and_refresh(warehouse.engine, now)
    raw = raw_totals(warehouse, covered)
    assert_same_totals(raw, rollup_totals(warehouse, "run_hours"), "run_hours")
    assert_same_totals(raw, rollup_totals(warehouse, "run_days"), "run_days")
    assert_error_hours_match(warehouse, covered)


# -- every route ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    rule: str  # the route's rule in dashapp/web/routes.py
    method: str
    url: str
    body: object = None


def calls(ids: list[int]) -> list[Call]:
    """A call of every route (sign-in and sign-out are how the clients are made): each list at its
    widest, each run's own routes for every id written."""
    export = "/export/sync-history.csv?range=all&sort=id:asc"
    made = [Call("/api/stats", "GET", "/api/stats"),
            Call("/api/crm-status", "GET", "/api/crm-status?limit=1000"),
            Call("/api/recent-syncs", "GET", "/api/recent-syncs?limit=500"),
            Call("/api/performance-charts", "GET", "/api/performance-charts"),
            Call("/api/performance-charts", "GET", "/api/performance-charts?days=365"),
            Call("/api/errors", "GET", "/api/errors"),
            Call("/api/errors", "GET", "/api/errors?days=365"),
            Call("/api/api-stats", "GET", "/api/api-stats?hours=2160"),
            Call("/api/rate-limits", "GET", "/api/rate-limits?hours=2160"),
            Call("/api/circuit-breakers", "GET", "/api/circuit-breakers?hours=2160"),
            Call("/api/system-health", "GET", "/api/system-health"),
            Call("/api/failed-operations", "GET", "/api/failed-operations?range=all&limit=5000"),
            Call("/api/failed-operations/retry", "POST", "/api/failed-operations/retry", {"ids": ids}),
            Call("/api/audit", "GET", "/api/audit?limit=1000"),
            Call("/api/alerts", "GET", "/api/alerts?range=all"),
            Call("/api/timeline", "GET", "/api/timeline?range=30d&limit=1000"),
            Call("/api/digest", "GET", "/api/digest"),
            Call("/api/digest", "GET", "/api/digest?day=2026-01-01"),
            Call("/api/timeline/lanes", "GET", "/api/timeline/lanes?range=30d"),
            Call("/api/alerts/<int:alert_id>/<action>", "POST", "/api/alerts/1/acknowledge", {"note": "seen"}),
            Call("/export/sync-history.csv", "GET", export),
            Call("/export/sync-history.csv", "GET", export + "&format=ndjson"),
            Call("/export/sync-history.csv", "GET", export + "&format=xlsx"),
            Call("/metrics", "GET", "/metrics"),
            Call("/healthz", "GET", "/healthz"),
            Call("/readyz", "GET", "/readyz")]
    # as of a moment an hour ago (runs written around it were running then)
    from urllib.parse import quote

    from dashapp.display import iso_utc

    at = "at=" + quote(iso_utc(utc_now() - timedelta(hours=1)) or "")
    made += [Call("/api/performance-charts", "GET", f"/api/performance-charts?range=90d&{at}"),
             Call("/api/errors", "GET", f"/api/errors?range=90d&{at}"),
             Call("/api/api-stats", "GET", f"/api/api-stats?range=90d&{at}"),
             Call("/api/rate-limits", "GET", f"/api/rate-limits?range=90d&{at}"),
             Call("/api/circuit-breakers", "GET", f"/api/circuit-breakers?range=90d&{at}"),
             Call("/api/failed-operations", "GET", f"/api/failed-operations?range=all&limit=5000&{at}"),
             Call("/api/audit", "GET", f"/api/audit?limit=1000&{at}"),
             Call("/export/sync-history.csv", "GET", f"{export}&{at}"),
             Call("/export/sync-history.csv", "GET", f"{export}&format=ndjson&{at}")]
    for run_id in ids:
        made += [Call("/api/failed-operations/<int:sync_id>", "GET", f"/api/failed-operations/{run_id}"),
                 Call("/api/failed-operations/<int:sync_id>/retry", "POST", f"/api/failed-operations/{run_id}/retry"),
                 Call("/api/runs/<path:raw_id>", "GET", f"/api/runs/{run_id}"),
                 Call("/api/runs/<raw_id>/error", "GET", f"/api/runs/{run_id}/error"),
                 Call("/api/failed-operations/<int:sync_id>", "GET", f"/api/failed-operations/{run_id}?{at}"),
                 Call("/api/runs/<path:raw_id>", "GET", f"/api/runs/{run_id}?{at}"),
                 Call("/api/runs/<raw_id>/error", "GET", f"/api/runs/{run_id}/error?{at}")]
    return made


def test_the_calls_cover_every_route() -> None:
    """A route added to dashapp/web/routes.py is called by the property tests too."""
    called = {(c.method, c.rule) for c in calls([1])}
    listed = {(r.method, r.path) for r in ROUTES if not r.path.startswith("/auth/")}
    assert called == listed

MAX_ANSWER = 500 * 1024  # no refresh sends more than about 500 KB (the export is a download)


def call_every_route(warehouse: Warehouse, ids: list[int], crm_sources: set[str]) -> None:
    """Every call as an operator and as an anonymous user answers below 500; the CRM list names
    every CRM byte-exact, and a name the app does not know exactly as stored; no answer but the
    export's is over MAX_ANSWER."""
    from dashapp.display import CRM_NAMES

    for who, client in (("operator", warehouse.operator), ("anonymous", warehouse.anonymous)):
        for call in calls(ids):
            answer = client.open(call.url, method=call.method, json=call.body)
            assert answer.status_code < 500, \
                f"{who} {call.method} {call.url}: {answer.status_code} {answer.get_data(as_text=True)[:300]!r}"
            if not call.rule.startswith("/export/"):
                assert len(answer.get_data()) < MAX_ANSWER, f"{who} {call.url}: {len(answer.get_data()):,} bytes"
            if call.rule == "/api/crm-status":
                crms = answer.get_json()["crms"]
                assert {c["crm_source"] for c in crms} == crm_sources, f"{who} {call.url}: CRMs differ"
                for crm in crms:
                    source = crm["crm_source"]
                    if source not in CRM_NAMES:
                        assert crm["name"] == source, f"{who} {call.url}: {source!r} is named {crm['name']!r}"


def check_routes(warehouse: Warehouse, rows: list[dict]) -> None:
    """Every route on the raw table, then again once the rollups are built (readers change path)."""
    now, ids = warehouse.write(rows)
    crm_sources = {r["crm_source"] for r in rows}
    call_every_route(warehouse, ids, crm_sources)
    build_and_refresh(warehouse.engine, now)
    call_every_route(warehouse, ids, crm_sources)


# -- the export ----------------------------------------------------------------------------------

def sql_rows(warehouse: Warehouse) -> dict[int, dict]:
    """SQL's own view of every row: text as stored, times as UTC text (``infinity``/``-infinity``
    for the infinite ones), the duration in seconds to the millisecond when both ends are finite."""
    utc = "AT TIME ZONE 'UTC'" if warehouse.aware else ""
    stamp = "CASE WHEN isfinite({c}) THEN to_char({c} " + utc + ", 'YYYY-MM-DD\"T\"HH24:MI:SS.US') ELSE {c}::text END"
    rows = warehouse.query(f"""
        SELECT id, crm_source, sync_type, endpoint, status, {stamp.format(c='start_time')},
               {stamp.format(c='end_time')},
               CASE WHEN isfinite(start_time) AND isfinite(end_time)
                    THEN ROUND(EXTRACT(EPOCH FROM end_time - start_time), 3) END,
               records_processed, records_created, records_updated, records_failed, error_message
        FROM orchestration.sync_history ORDER BY id""")
    return {r[0]: dict(zip(EXPORT_COLUMNS, r, strict=True)) for r in rows}


def same_time(exported: object, stored: str | None) -> bool:
    """An exported time (ISO 8601 UTC with Z) is SQL's: the same instant, or the same infinity."""
    if stored is None or exported is None or exported == "":
        return stored is None and exported in (None, "")
    if stored in ("infinity", "-infinity"):
        return str(exported).removesuffix("Z") == stored
    if not isinstance(exported, str) or not exported.endswith("Z"):
        return False
    try:
        year, rest = exported.split("-", 1)
        return datetime.fromisoformat(f"{int(year):04d}-{rest[:-1]}") == datetime.fromisoformat(stored)
    except ValueError:
        return False


def same_number(exported: object, stored: object) -> bool:
    if stored is None:
        return exported in (None, "")
    try:
        return float(exported) == float(stored)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def assert_export_row(fmt: str, got: dict, want: dict) -> None:
    run = want["id"]
    for column in EXPORT_TEXT_COLUMNS:
        stored = want[column]
        if fmt == "csv":  # NULL and '' read alike; the formula quote comes off
            stored = "" if stored is None else ("'" + stored if stored.startswith(FORMULA_STARTS) else stored)
        assert got[column] == stored, f"{fmt} run {run} {column}: {got[column]!r} != SQL's {stored!r}"
    for column in ("start_time", "end_time"):
        assert same_time(got[column], want[column]), \
            f"{fmt} run {run} {column}: {got[column]!r} != SQL's {want[column]!r}"
    for column in ("duration_seconds", *RECORD_COLUMNS):
        assert same_number(got[column], want[column]), \
            f"{fmt} run {run} {column}: {got[column]!r} != SQL's {want[column]!r}"


def check_export(warehouse: Warehouse, rows: list[dict]) -> None:
    """CSV and NDJSON of every run parse back to SQL's rows, for an operator and an anonymous user."""
    warehouse.write(rows)
    stored = sql_rows(warehouse)
    url = "/export/sync-history.csv?range=all&sort=id:asc"
    for who, client in (("operator", warehouse.operator), ("anonymous", warehouse.anonymous)):
        for fmt in ("csv", "ndjson"):
            answer = client.get(url + f"&format={fmt}")
            body = answer.get_data(as_text=True)
            assert answer.status_code == 200, f"{who} {fmt}: {answer.status_code} {body[:300]!r}"
            if fmt == "csv":
                csv.field_size_limit(max(csv.field_size_limit(), len(body)))  # a 1 MB message is one cell
                parsed = list(csv.DictReader(io.StringIO(body, newline="")))
            else:
                parsed = [json.loads(line) for line in body.split("\n") if line]
            assert [int(r["id"]) for r in parsed] == list(stored), f"{who} {fmt}: ids differ from SQL's"
            for got in parsed:
                assert_export_row(fmt, got, stored[int(got["id"])])


# -- /metrics ------------------------------------------------------------------------------------

def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is not on PATH (.ci/setup installs Debian's prometheus package)"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


def check_metrics(warehouse: Warehouse, rows: list[dict]) -> None:
    """``promtool check metrics`` on /metrics' text, on the raw table and with rollups: exit 0 and
    nothing printed (every lint problem it names is one a Prometheus user would see)."""
    tool = promtool()
    now, _ = warehouse.write(rows)
    for moment in ("raw table", "rollups"):
        if moment == "rollups":
            build_and_refresh(warehouse.engine, now)
        for who, client in (("operator", warehouse.operator), ("anonymous", warehouse.anonymous)):
            answer = client.get("/metrics")
            assert answer.status_code == 200, f"{who} /metrics ({moment}): {answer.status_code}"
            checked = subprocess.run([tool, "check", "metrics"], input=answer.data, capture_output=True,
                                     timeout=60, check=False)
            said = (checked.stdout + checked.stderr).decode(errors="replace").strip()
            assert checked.returncode == 0 and said == "", \
                f"{who} /metrics ({moment}): promtool exit {checked.returncode}: {said[:1000]}"


# -- the tests -----------------------------------------------------------------------------------

CHECKS = {"rollups": check_rollups, "routes": check_routes, "export": check_export, "metrics": check_metrics}
LATE = Moment(from_now=-timedelta(hours=30))
KNOWN_DEFECTS = {  # named hard values (each once a defect): every check runs on each
    "carriage return": [row(crm_source="hub\rspot"), row(sync_type="con\rtacts"),
                        row(status="failed", error_message="boom\rthere")],
    "empty crm_source and sync_type": [row(crm_source=""), row(sync_type="")],
    "start -infinity": [row(start=Moment(infinite="-infinity"))],
    "start in year 999": [row(start=Moment(at=datetime(999, 12, 31, 23)),
                              end=Moment(at=datetime(999, 12, 31, 23, 30)))],
    "failed run ending at infinity": [row(start=LATE, end=INFINITE_END, status="failed", error_message="never")],
    "success ending at infinity": [row(start=LATE, end=INFINITE_END)],
    "unknown crm with a quote": [row(crm_source='ev"il', status="failed", error_message="x")],
    "1 MB message": [row(status="failed", error_message="m" * 1_000_000)],
}


@pytest.mark.parametrize("case", KNOWN_DEFECTS)
@pytest.mark.parametrize("check", CHECKS)
def test_known_defects(warehouse: Warehouse, check: str, case: str) -> None:
    CHECKS[check](warehouse, KNOWN_DEFECTS[case])


def drawn_rows(data: st.DataObject, warehouse: Warehouse) -> list[dict]:
    return data.draw(st.lists(runs(warehouse.shape), min_size=1, max_size=5), label="rows")


@PROPERTY_SETTINGS
@given(data=st.data())
def test_rollups_equal_raw_sql_for_any_rows(warehouse: Warehouse, data: st.DataObject) -> None:
    check_rollups(warehouse, drawn_rows(data, warehouse))


@settings(PROPERTY_SETTINGS, max_examples=8)  # ~70 requests an example: the known defects add 16 more
@given(data=st.data())
def test_every_route_answers_any_rows(warehouse: Warehouse, data: st.DataObject) -> None:
    check_routes(warehouse, drawn_rows(data, warehouse))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_export_parses_back_for_any_rows(warehouse: Warehouse, data: st.DataObject) -> None:
    check_export(warehouse, drawn_rows(data, warehouse))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_metrics_pass_promtool_for_any_rows(warehouse: Warehouse, data: st.DataObject) -> None:
    check_metrics(warehouse, drawn_rows(data, warehouse))
