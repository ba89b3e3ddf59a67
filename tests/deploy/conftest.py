"""The deploy tests' image (built once per run) and warehouse-shaped database (one per module)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from tests.conftest import test_database as database_of_this_run
from tests.deploy.docker import IMAGE, PREFIX, build_image, docker_ready
from tests.support import deployed_shape
from tests.support.rows import Run, expected_overview, insert_runs

H, M = timedelta(hours=1), timedelta(minutes=1)


@pytest.fixture(scope="session")
def image() -> str:
    docker_ready()
    seconds = build_image()
    print(f"docker build: {seconds:.1f} s")
    return IMAGE


@pytest.fixture(scope="module")
def warehouse() -> Iterator[tuple[str, dict[str, float]]]:
    """A database of the warehouse's shape (tests/support/deployed_shape.py) with a few runs of the
    last day; yields its URL and the overview's figures computed from those runs."""
    runs = [Run("hubspot", "contacts", "success", 3 * H, 3 * H - 4 * M, processed=120, created=20),
            Run("hubspot", "deals", "failed", 2 * H, 2 * H - M, error="HTTPError: 429 Too Many Requests"),
            Run("callrail", "calls", "success", H, H - 2 * M, processed=40),
            Run("genius", "jobs", "partial", 90 * M, 80 * M, processed=10, failed=2),
            Run("callrail", "calls", "running", 5 * M, None)]
    database = f"{PREFIX.replace('-', '_')}image_{uuid.uuid4().hex[:8]}"
    with database_of_this_run(database, "Europe/Berlin", deployed_shape.create) as url:
        engine = create_engine(url)
        insert_runs(engine, runs, datetime.now(UTC))
        engine.dispose()
        yield url, expected_overview(runs)
