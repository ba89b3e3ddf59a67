"""Fixtures shared by the storage tests."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from dashapp.storage.db import psycopg2_url


@pytest.fixture
def read_only_url(postgres_url, pg_engine):
    """A role that may only SELECT the user's tables, as the README tells a warehouse to make."""
    role = f"sm_reader_{uuid.uuid4().hex[:8]}"
    with pg_engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA orchestration TO {role}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA orchestration TO {role}"))
    yield psycopg2_url(postgres_url).set(username=role).render_as_string(hide_password=False)
    with pg_engine.begin() as conn:
        conn.execute(text(f"DROP OWNED BY {role}"))
        conn.execute(text(f"DROP ROLE {role}"))
