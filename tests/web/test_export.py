"""GET /export/sync-history.csv: CSV, NDJSON and XLSX read back equal the query's rows."""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta

import pandas as pd
import pytest

from dashapp.web.api import export
from queries.clock import utc_now
from queries.history import EXPORT_COLUMNS, FilterValues, history_rows
from tests.support.rows import Run, history_runs, insert_runs


@pytest.fixture
def client(dash_app, use_engine, db):
    use_engine(db)
    return dash_app.server.test_client()


def expected_frame(db, f: FilterValues) -> pd.DataFrame:
    rows = [row for chunk in history_rows(db, **f) for row in chunk]
    frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def test_csv_read_back_equals_the_query(client, db):
    runs = insert_runs(db, history_runs(), utc_now())
    response = client.get("/export/sync-history.csv?status=failed,partial&status=weird&crm_source=hubspot,genius"
                          "&range=30d&sort=records_processed:desc")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="sync-history-')
    body = response.get_data()
    assert body.startswith(b"id,crm_source,sync_type,endpoint,status,start_time,end_time,duration_seconds,")
    got = pd.read_csv(io.BytesIO(body), encoding="utf-8", keep_default_na=False, na_values=[""])
    want = expected_frame(db, FilterValues(
        start=utc_now() - pd.Timedelta(days=30).to_pytimedelta(), statuses=("failed", "partial", "weird"),
        crm_sources=("hubspot", "genius"), sort=(("records_processed", "desc"),)))
    assert len(got) == len(want) == sum(
        1 for r in runs if r.status in ("failed", "partial", "weird") and r.crm_source in ("hubspot", "genius"))
    assert list(got.columns) == list(EXPORT_COLUMNS)
    assert list(got["id"]) == list(want["id"])
    assert list(got["error_message"].fillna("")) == list(want["error_message"].fillna(""))
    assert list(pd.to_datetime(got["start_time"], utc=True)) == list(want["start_time"])
    assert got["start_time"].str.endswith("Z").all()
    assert list(got["records_processed"].fillna(-1)) == list(want["records_processed"].fillna(-1))


def test_ndjson_lines_are_the_rows(client, db):
    runs = insert_runs(db, history_runs(), utc_now())
    response = client.get("/export/sync-history.csv?format=ndjson&range=all&q=%C3%B0&q=ignored")
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert lines == []  # 'ð' is in no message
    response = client.get("/export/sync-history.csv?format=ndjson&range=all&q=%D0%9E%D1%88%D0%B8%D0%B1%D0%BA%D0%B0")
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    expected = sorted((r for r in runs if r.error and "Ошибка" in r.error), key=lambda r: r.start_ago)
    assert [line["id"] for line in lines] == [r.id for r in expected]
    assert lines[0]["error_message"] == expected[0].error


def test_xlsx_read_back(client, db):
    runs = insert_runs(db, history_runs(), utc_now())
    response = client.get("/export/sync-history.csv?format=xlsx&range=all&crm_source=callrail")
    assert response.status_code == 200
    sheet = pd.read_excel(io.BytesIO(response.get_data()), engine="openpyxl")
    expected = sorted((r for r in runs if r.crm_source == "callrail"), key=lambda r: r.start_ago)
    assert list(sheet["id"]) == [r.id for r in expected]


def test_xlsx_past_excels_row_limit_is_a_400(client, db, monkeypatch):
    insert_runs(db, history_runs(), utc_now())
    monkeypatch.setattr(export, "EXCEL_MAX_ROWS", 10)
    response = client.get("/export/sync-history.csv?format=xlsx&range=all")
    assert response.status_code == 400
    assert "xlsx holds at most 10 rows" in response.get_json()["error"]


@pytest.mark.parametrize(("query", "parameter"), [
    ("start=last%20tuesday", "start"), ("end=2026-13-45", "end"), ("start=2026-11-20&end=2026-11-19", "end"),
    ("range=week", "range"), ("format=pdf", "format"), ("sort=password:asc", "sort"),
    ("filter=%7Bnot%20json", "filter"), ("filter=%5B1%5D", "filter"),
    ("filter=" + "%7B%22status%22%3A%7B%22type%22%3A%22zzz%22%7D%7D", "filter"),
])
def test_bad_parameters_are_a_400_naming_them(client, query, parameter):
    response = client.get(f"/export/sync-history.csv?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f"{parameter}:")


@pytest.mark.slow
def test_a_client_that_leaves_mid_download_stops_the_copy(dash_app, use_engine, pg_engine):
    """COPY streams through a bounded queue: closing the response ends the COPY and frees its connection."""
    from sqlalchemy import text

    many = [Run("five9", "calls", "success", timedelta(seconds=i + 2), timedelta(seconds=i + 1),
                error="x" * 2000) for i in range(4_000)]
    insert_runs(pg_engine, many, utc_now())
    use_engine(pg_engine)
    response = dash_app.server.test_client().get("/export/sync-history.csv?range=all", buffered=False)
    stream = iter(response.response)
    assert next(stream).startswith(b"id,crm_source")
    next(stream)
    response.close()

    def copying() -> int:
        with pg_engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT id%' "
                                     "AND state = 'active' AND pid <> pg_backend_pid()")).scalar_one()

    deadline = time.monotonic() + 10
    while copying() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert copying() == 0
