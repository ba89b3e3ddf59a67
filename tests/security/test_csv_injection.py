"""Text from the user's data that a spreadsheet would run as a formula (a leading ``=``,
``+``, ``-``, ``@``, tab or carriage return) is exported with a single quote before it, in every
text column, on PostgreSQL's COPY path and the Python path alike; numbers stay numbers; XLSX keeps
every string a string (no formula cell)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

from queries.clock import utc_now
from tests.support.rows import Run, insert_runs

FORMULAS = ['=HYPERLINK("//e.x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]
SAFE = ["hubspot", "x=1", " =not first", "'already quoted"]


def runs() -> list[Run]:
    made = []
    for n, text in enumerate(FORMULAS + SAFE):
        run = Run(text, text, text, timedelta(minutes=n + 2), timedelta(minutes=n + 1), 10, -3, 4, 0, error=text)
        made.append(run)
    return made


def endpoint_rows(engine, values):
    from sqlalchemy import update

    from dashapp.storage.sync_tables import sync_history

    with engine.begin() as conn:
        for text in values:
            conn.execute(update(sync_history).where(sync_history.c.crm_source == text).values(endpoint=text))


def test_formula_cells_are_neutralised_in_csv(dash_app, db, use_engine):
    use_engine(db)
    insert_runs(db, runs(), utc_now())
    endpoint_rows(db, FORMULAS + SAFE)
    answer = dash_app.server.test_client().get("/export/sync-history.csv?range=24h&sort=id:asc")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True), newline="")))
    assert len(rows) == len(FORMULAS + SAFE)
    for row, text in zip(rows, FORMULAS + SAFE, strict=True):
        expected = "'" + text if text in FORMULAS else text
        for column in ("crm_source", "sync_type", "endpoint", "status", "error_message"):
            assert row[column] == expected, (column, row[column])
        assert (row["records_created"], row["records_processed"]) == ("-3", "10")  # numbers as numbers


def test_xlsx_keeps_strings_strings(dash_app, db, use_engine):
    use_engine(db)
    insert_runs(db, runs(), utc_now())
    answer = dash_app.server.test_client().get("/export/sync-history.csv?range=24h&format=xlsx")
    assert answer.status_code == 200
    with zipfile.ZipFile(io.BytesIO(answer.data)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "HYPERLINK" in sheet  # the text is there, as text
