"""A database error names its cause in its own words with what to do, on both
shapes of the user's tables, for a real role of the test's own (LOGIN, trust on 127.0.0.1):
SELECT revoked on sync_schedule or sync_history, or USAGE on their schema, is "permission denied"
(never "does not exist"), with the GRANT for operators only, and that GRANT, run as the owner,
is the one that lets the app read again; a missing table or column is named; a statement timeout
says so and names the setting that raises it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from dashapp.errors import DATABASE_UNAVAILABLE, TIMED_OUT, database_problem
from dashapp.storage.db import postgres_engine
from dashapp.storage.sync_tables import metadata
from queries import table_shape
from queries.clock import utc_now
from queries.table_shape import PERMISSION_SHORT
from tests import conftest as shared
from tests.support import deployed_shape
from tests.support.rows import Run, insert_runs

OPERATOR = {"X-Forwarded-User": "alice"}
GRANT = re.compile(r"run (GRANT .+;)$")
M = timedelta(minutes=1)


def _documented(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA orchestration"))
        metadata.create_all(conn)


SHAPES = {"documented": _documented, "deployed": deployed_shape.create}


@pytest.fixture(scope="module")
def reader_role() -> Iterator[str]:
    """A role of this lane's own, dropped at the end (its grants go with its databases)."""
    name = f"lane_d_reader_{uuid.uuid4().hex[:8]}"
    admin = shared._admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
    admin.dispose()


@dataclass
class Warehouse:
    owner: Engine  # the tables' owner (the superuser)
    app: Engine  # the app, connected as the reader role
    role: str


@pytest.fixture(params=list(SHAPES))
def warehouse(request, reader_role) -> Iterator[Warehouse]:
    """A database of this lane's own in one shape, readable by the role (SELECT, nothing else)."""
    name = f"sync_monitor_lane_d_{uuid.uuid4().hex[:8]}_{request.param}"
    with shared.test_database(name, "UTC", SHAPES[request.param]) as url:
        owner = create_engine(url, isolation_level="AUTOCOMMIT")
        with owner.connect() as conn:
            for schema_name in ("orchestration", "public"):
                conn.execute(text(f'GRANT USAGE ON SCHEMA {schema_name} TO "{reader_role}"'))
                conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA {schema_name} TO "{reader_role}"'))
        app = postgres_engine(make_url(url).set(username=reader_role).render_as_string(hide_password=False),
                              "orchestration", db_statement_timeout_seconds=1)
        writer = postgres_engine(url, "orchestration")
        insert_runs(writer, [Run("hubspot", "contacts", "success", 30 * M, 29 * M, 5)], utc_now())
        writer.dispose()
        yield Warehouse(owner, app, reader_role)
        app.dispose()
        owner.dispose()


@pytest.fixture
def client(dash_app, use_engine, warehouse, users_file):
    use_engine(warehouse.app, AUTH_USERS_FILE=str(users_file), AUTH_PROXY_HEADER="X-Forwarded-User")
    return dash_app.server.test_client()


def run_grant(warehouse: Warehouse, told: str) -> None:
    """Run, as the owner, the GRANT an operator was told to run."""
    found = GRANT.search(told)
    assert found, told
    with warehouse.owner.connect() as conn:
        conn.execute(text(found.group(1)))
    table_shape.forget(warehouse.app)


def note(client, headers: dict | None = None) -> str:
    answer = client.get("/api/crm-status", headers=headers or {})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    (crm,) = answer.json["crms"]
    return crm["next_sync_note"]


def test_revoked_schedule_is_permission_denied_with_the_grant_for_operators(client, warehouse):
    with warehouse.owner.connect() as conn:
        conn.execute(text(f'REVOKE SELECT ON orchestration.sync_schedule FROM "{warehouse.role}"'))
    anonymous = note(client)
    assert anonymous.startswith(f"no schedules: {PERMISSION_SHORT}")
    assert "does not exist" not in anonymous and warehouse.role not in anonymous and "GRANT" not in anonymous
    operator = note(client, OPERATOR)
    assert "does not exist" not in operator
    assert f'GRANT SELECT ON "orchestration".sync_schedule TO "{warehouse.role}";' in operator
    run_grant(warehouse, operator.split("; too few runs")[0])
    assert "permission denied" not in note(client, OPERATOR)


@pytest.mark.parametrize("revoke, told", [
    ("REVOKE SELECT ON orchestration.sync_history FROM", 'GRANT SELECT ON "orchestration"."sync_history" TO'),
    ("REVOKE USAGE ON SCHEMA orchestration FROM", 'GRANT USAGE ON SCHEMA "orchestration" TO'),
])
def test_revoked_history_is_permission_denied_with_the_grant_for_operators(client, warehouse, revoke, told):
    with warehouse.owner.connect() as conn:
        conn.execute(text(f'{revoke} "{warehouse.role}"'))
    anonymous = client.get("/api/stats")
    assert anonymous.status_code == 503 and anonymous.json["error"] == f"{DATABASE_UNAVAILABLE}: {PERMISSION_SHORT}"
    operator = client.get("/api/stats", headers=OPERATOR)
    assert operator.status_code == 503
    assert f'{told} "{warehouse.role}";' in operator.json["error"] and "does not exist" not in operator.json["error"]
    run_grant(warehouse, operator.json["error"])
    assert client.get("/api/stats").status_code == 200


def test_a_missing_column_is_named(client, warehouse):
    with warehouse.owner.connect() as conn:
        conn.execute(text("ALTER TABLE orchestration.sync_history RENAME COLUMN status TO state"))
    answer = client.get("/api/stats")
    assert answer.status_code == 503
    assert answer.json["error"] == f"{DATABASE_UNAVAILABLE}: column status does not exist"
    assert "docs/sync-tables.md" in client.get("/api/stats", headers=OPERATOR).json["error"]


def test_a_missing_table_is_named_and_the_operator_told_what_to_do(client, warehouse):
    with warehouse.owner.connect() as conn:
        conn.execute(text("DROP TABLE orchestration.sync_history"))
    answer = client.get("/api/stats")
    assert answer.status_code == 503
    assert answer.json["error"] == (f"{DATABASE_UNAVAILABLE}: table sync_history does not exist "
                                    "(an operator sees what to do)")
    operator = client.get("/api/stats", headers=OPERATOR).json["error"]
    assert "table orchestration.sync_history does not exist: SYNC_SCHEMA" in operator


def test_a_statement_timeout_says_so_and_names_the_setting(client, warehouse):
    with warehouse.owner.connect() as plain:
        locker = plain.execution_options(isolation_level="READ COMMITTED")
        with locker.begin():
            locker.execute(text("LOCK TABLE orchestration.sync_history IN ACCESS EXCLUSIVE MODE"))
            answer = client.get("/api/stats")
    assert answer.status_code == 503 and answer.json["error"] == f"{DATABASE_UNAVAILABLE}: {TIMED_OUT}"
    assert "DB_STATEMENT_TIMEOUT_SECONDS" in TIMED_OUT


def test_sqlite_errors_in_the_same_words(sqlite_db):
    for statement, kind, public in (
            ('SELECT nope FROM "orchestration".sync_history', "missing_column", "column nope does not exist"),
            ("SELECT * FROM gone", "missing_table", "table gone does not exist (an operator sees what to do)")):
        with pytest.raises(SQLAlchemyError) as failed, sqlite_db.connect() as conn:
            conn.execute(text(statement))
        problem = database_problem(failed.value)
        assert (problem.kind, problem.public) == (kind, public)


def test_the_apps_own_tables_unusable_is_permission_denied_not_missing(client, warehouse, dash_app):
    """The failed-operations page says "run db upgrade" only when its table is missing."""
    from dashapp.storage import migrate
    from tests.support.callbacks import call

    owner = postgres_engine(warehouse.owner.url.render_as_string(hide_password=False), "orchestration")
    migrate.upgrade(owner)  # the app's tables exist; the role may read all but failed_operations
    owner.dispose()
    with warehouse.owner.connect() as conn:
        conn.execute(text(f'GRANT USAGE ON SCHEMA sync_monitor TO "{warehouse.role}"'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA sync_monitor TO "{warehouse.role}"'))
        conn.execute(text(f'REVOKE SELECT ON sync_monitor.failed_operations FROM "{warehouse.role}"'))
    response = call(client, dash_app, "failed-operations-grid.rowData", {"failed-range": "all"})
    error = response["failed-refresh-state"]["data"]["error"]
    assert error == PERMISSION_SHORT and "db upgrade" not in error
