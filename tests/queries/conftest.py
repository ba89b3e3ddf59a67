"""Fixtures of the query tests that need django-celery-beat itself: its tables made by its own
migrations in schema ``django`` (tests/support/beat_oracle.py) and the app's engine on them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from dashapp.storage.db import postgres_engine, psycopg2_url
from queries import table_shape
from tests.conftest import DATABASE_TIMEZONE, need


@pytest.fixture(scope="module")
def oracle():
    try:
        import django_celery_beat  # noqa: F401
        import time_machine  # noqa: F401
    except ImportError as exc:
        need("django-celery-beat", f"{exc} (pip install -r requirements-dev.txt)")
    from tests.support.beat_oracle import oracle_database

    with oracle_database() as found:
        yield found


@pytest.fixture
def beat(oracle):
    """The oracle with no tasks left from an earlier test."""
    oracle.clear()
    return oracle


@pytest.fixture
def app_engine(oracle) -> Iterator[Engine]:
    """The app's own engine on the oracle database: search path "$user", public (no ``django``)."""
    engine = postgres_engine(oracle.url, "orchestration")
    table_shape.forget(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def zoned_engine(oracle) -> Iterator[Engine]:
    """The app's engine with SYNC_TIMEZONE far from UTC: beat's timestamptz columns read the same."""
    engine = postgres_engine(oracle.url, "orchestration", DATABASE_TIMEZONE)
    yield engine
    engine.dispose()


def owner_sql(url: str, *statements: str) -> None:
    """Statements as postgres (the owner of beat's tables), each committed."""
    engine = create_engine(psycopg2_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


