"""GET /export/sync-history.csv: every run matching the history's filters, streamed.

On PostgreSQL the CSV is written by the server itself (``COPY ... TO STDOUT``,
``queries.history_copy``); elsewhere, and for NDJSON, rows come from a server-side cursor in
chunks (``queries.history.history_rows``). Either way: RFC 4180 quoting, UTF-8, a header row, LF
line ends, flat memory whatever the row count. XLSX is written to a temporary file in
XlsxWriter's constant-memory mode, up to Excel's row limit; past it the route answers 400 before
any work.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from datetime import datetime

from flask import Blueprint, Response, request, send_file

from dashapp import history_params, runtime
from dashapp.http_errors import BadParameter
from queries._sql import utc_now
from queries.history import EXPORT_COLUMNS, HistoryFilter, history_count, history_rows
from queries.history_copy import copy_csv

export = Blueprint("export", __name__)
FLUSH_BYTES = 64 * 1024
EXCEL_MAX_ROWS = 1_048_576 - 1  # one row is the header
FORMATS = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _iso(value: object) -> object:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(value, datetime) else value


def csv_chunks(chunks: Iterator[list[tuple]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")  # RFC 4180 quoting; LF line ends, as COPY writes
    writer.writerow(EXPORT_COLUMNS)
    for rows in chunks:
        writer.writerows([_iso(v) for v in row] for row in rows)
        if buffer.tell() >= FLUSH_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def ndjson_chunks(chunks: Iterator[list[tuple]]) -> Iterator[bytes]:
    for rows in chunks:
        lines = [json.dumps(dict(zip(EXPORT_COLUMNS, map(_iso, row), strict=True)), ensure_ascii=False)
                 for row in rows]
        if lines:
            yield ("\n".join(lines) + "\n").encode("utf-8")


def write_xlsx(chunks: Iterator[list[tuple]]) -> tempfile.SpooledTemporaryFile:
    import xlsxwriter

    target = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - sent, then closed
    book = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_numbers": False,
                                        "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet("sync_history")
    sheet.write_row(0, 0, EXPORT_COLUMNS)
    line = 1
    for rows in chunks:
        for row in rows:
            sheet.write_row(line, 0, [_iso(v) for v in row])
            line += 1
    book.close()
    target.seek(0)
    return target


@export.get("/export/sync-history.csv")
def sync_history_export():
    now = utc_now()
    args = request.args.to_dict(flat=False)
    chosen = history_params.first(args, "format") or "csv"
    if chosen not in FORMATS:
        raise BadParameter("format", f"{chosen[:20]!r} is not one of csv, ndjson, xlsx")
    engine = runtime.engine()
    selection: HistoryFilter = history_params.parse(args, now, known=history_params.known_values(engine))
    name = history_params.export_name(selection, now, chosen)
    if chosen == "xlsx":
        count, exact = history_count(engine, selection, cap=EXCEL_MAX_ROWS)
        if count > EXCEL_MAX_ROWS:
            about = "" if exact else "about "
            raise BadParameter("format", f"xlsx holds at most {EXCEL_MAX_ROWS:,} rows and {about}{count:,} "
                                         "match: use csv or narrow the filters")
        return send_file(write_xlsx(history_rows(engine, selection)), mimetype=FORMATS["xlsx"],
                         as_attachment=True, download_name=name)
    if chosen == "csv" and engine.dialect.name == "postgresql":
        body = copy_csv(engine, selection)  # the server writes the CSV: COPY speed
    else:
        body = csv_chunks(history_rows(engine, selection)) if chosen == "csv" else \
            ndjson_chunks(history_rows(engine, selection))
    first = next(body, b"")  # fail here (a 4xx/503) rather than mid-stream

    def replay() -> Iterator[bytes]:
        yield first
        yield from body

    return Response(replay(), mimetype=FORMATS[chosen].split(";")[0], headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Type": FORMATS[chosen],
        "X-Accel-Buffering": "no",
    })
