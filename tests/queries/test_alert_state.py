"""The alert evaluation's lock (queries.alert_state.lock_evaluation): one evaluation at a time, on
PostgreSQL (a transaction advisory lock, refused at once to a second) and on SQLite (the write lock).
The evaluation's other statements are exercised through tests/alerts."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from queries import alert_state
from queries._sql import app_db
from queries.clock import utc_now
from tests.conftest import empty_app_tables

LOCK_ID = 7_200_417


def test_a_second_evaluation_is_refused_the_lock_until_the_first_ends(pg_engine):
    empty_app_tables(pg_engine)
    app = app_db(pg_engine)
    with app.begin() as first:
        assert alert_state.lock_evaluation(first, LOCK_ID) is True
        with app.begin() as second:
            assert alert_state.lock_evaluation(second, LOCK_ID) is False
            assert alert_state.lock_evaluation(second, LOCK_ID + 1) is True  # another key is free
    with app.begin() as third:  # the first transaction's end released it
        assert alert_state.lock_evaluation(third, LOCK_ID) is True


def test_on_sqlite_the_lock_is_the_write_lock(sqlite_db):
    empty_app_tables(sqlite_db)
    with sqlite_db.begin() as first:
        assert alert_state.lock_evaluation(first, LOCK_ID) is True
        with sqlite_db.connect() as second:
            second.exec_driver_sql("PRAGMA busy_timeout=0")  # fail at once instead of waiting 30 s
            try:
                with pytest.raises(OperationalError, match="locked"):
                    alert_state.lock_evaluation(second, LOCK_ID)
            finally:
                second.rollback()
                second.exec_driver_sql("PRAGMA busy_timeout=30000")
        alert_state.fire(first, "late", "hubspot", "warning", "late", 1.0, utc_now().replace(tzinfo=None))
    with sqlite_db.connect() as conn:
        assert [(row.rule, row.subject) for row in alert_state.firing(conn)] == [("late", "hubspot")]

