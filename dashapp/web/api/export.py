"""GET /export/sync-history.csv: every run matching the history's filters, streamed.

On PostgreSQL the CSV is written by the server itself (``COPY ... TO STDOUT``,
``queries.history_copy``); elsewhere, and for NDJSON, rows come from a server-side cursor in
chunks (``queries.history.history_rows``). Either way: RFC 4180 quoting, UTF-8, a header row, LF
line ends, flat memory whatever the row count. XLSX is written to a temporary file in
XlsxWriter's constant-memory mode, up to XLSX_MAX_ROWS (200,000: about 13 s of a worker's time);
past it the route answers 400, pointing at CSV, before any work.

Bounded (``dashapp.web.export_limits``): exports at once per client and per process, one export
of all history at a time per client without sign-in, and a write deadline
(EXPORT_WRITE_TIMEOUT_SECONDS) after which a client that does not read is dropped.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Response, jsonify, request

from dashapp import runtime
from dashapp.auth import users as auth
from dashapp.errors import BadParameter, error_line
from dashapp.payloads import params
from dashapp.payloads.history import HistoryFilter
from dashapp.web import export_limits
from queries.clock import utc_now
from queries.history import (
    EXPORT_COLUMNS,
    EXPORT_TEXT_COLUMNS,
    FORMULA_STARTS,
    history_count,
    history_rows,
)
from queries.history_copy import copy_csv
from queries.time_bounds import infinity_name

log = logging.getLogger(__name__)
FLUSH_BYTES = 64 * 1024
EXCEL_MAX_ROWS = 1_048_576 - 1  # one row is the header
# XlsxWriter writes ~15,000 rows a second: 200,000 rows hold a worker thread ~13 s (1M took 67 s)
XLSX_MAX_ROWS = 200_000
FORMATS = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _iso(value: object) -> object:
    """A time as COPY writes it (``queries.history.export_select``): ISO 8601 UTC with a Z, a
    four-digit year, the fraction only when there is one; "infinity" / "-infinity" as they are."""
    if not isinstance(value, datetime):
        return value
    return infinity_name(value) or value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def neutralise(value: object) -> object:
    """Text a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) with a
    single quote before it; anything else as it is."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


TEXT_POSITIONS = frozenset(EXPORT_COLUMNS.index(c) for c in EXPORT_TEXT_COLUMNS)


def _csv_cell(value: object) -> str:
    """One RFC 4180 cell, as COPY writes it: NULL empty, text quoted when it holds a comma, a quote,
    a CR or an LF (``csv.writer`` leaves a lone CR unquoted when lines end with LF)."""
    if value is None:
        return ""
    text = _iso(value) if isinstance(value, datetime) else value
    text = text if isinstance(text, str) else str(text)
    if text == "" or any(c in text for c in _QUOTE_WHEN):
        return '"' + text.replace('"', '""') + '"'
    return text


_QUOTE_WHEN = (",", '"', "\r", "\n")


def csv_chunks(chunks: Iterator[list[tuple]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    buffer.write(",".join(EXPORT_COLUMNS) + "\n")
    for rows in chunks:
        buffer.writelines(",".join(_csv_cell(neutralise(v) if i in TEXT_POSITIONS else v) for i, v in enumerate(row))
                          + "\n" for row in rows)
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


def _write_deadline(seconds: int) -> bool:
    """A timeout on the client's socket, so a write the client does not take within ``seconds``
    raises in the server and the connection is dropped: gunicorn's (gthread) and the dev
    server's socket; False where the server gives none (then only the proxy's limits hold)."""
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    if sock is None or not hasattr(sock, "settimeout"):
        return False
    sock.settimeout(seconds)
    return True


def _refused(refusal: export_limits.ExportRefused):
    answer = jsonify(refusal.body())
    answer.status_code = refusal.status
    answer.headers["Retry-After"] = str(refusal.retry_after)
    return answer


def sync_history_export():
    now = utc_now()
    args = request.args.to_dict(flat=False)
    chosen = params.first(args, "format") or "csv"
    if chosen not in FORMATS:
        raise BadParameter("format", f"{chosen[:20]!r} is not one of csv, ndjson, xlsx")
    engine = runtime.engine()
    settings = runtime.settings()
    selection = HistoryFilter.parse(args, now, known=params.known_values(engine))
    name = selection.export_name(now, chosen)
    anonymous_wide = settings.auth_configured and auth.current_user(settings) is None and \
        export_limits.wide(selection.start, selection.end, now)
    try:
        slot = export_limits.acquire(settings, request.remote_addr, anonymous_wide)
    except export_limits.ExportRefused as refusal:
        return _refused(refusal)
    try:
        _write_deadline(settings.export_write_timeout_seconds)
        answer = _xlsx(engine, selection, name, slot) if chosen == "xlsx" else \
            _stream(engine, selection, name, chosen, slot)
    except BaseException:
        slot.release()
        raise
    answer.call_on_close(slot.release)
    return answer


def _xlsx(engine, selection: HistoryFilter, name: str, slot: export_limits.Slot) -> Response:
    most = min(XLSX_MAX_ROWS, EXCEL_MAX_ROWS)
    count, exact = history_count(engine, cap=most, **selection.query_values())
    if count > most:
        about = "" if exact else "about "
        raise BadParameter("format", f"xlsx holds at most {most:,} rows here and {about}{count:,} match: "
                                     "use format=csv (no row limit) or narrow the filters")
    target = write_xlsx(history_rows(engine, **selection.query_values()))
    size = target.seek(0, io.SEEK_END)
    target.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while piece := target.read(FLUSH_BYTES):
                slot.renew()
                yield piece
        finally:
            target.close()
            slot.release()

    return Response(chunks(), mimetype=FORMATS["xlsx"], headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Content-Length": str(size)})


def _stream(engine, selection: HistoryFilter, name: str, chosen: str, slot: export_limits.Slot) -> Response:
    values = selection.query_values()
    if chosen == "csv" and engine.dialect.name == "postgresql":
        body = copy_csv(engine, **values)  # the server writes the CSV: COPY speed
    else:
        rows = history_rows(engine, **values)
        body = csv_chunks(rows) if chosen == "csv" else ndjson_chunks(rows)
    first = next(body, b"")  # fail here (a 4xx/503) rather than mid-stream

    def replay() -> Iterator[bytes]:
        sent = len(first)
        try:
            yield first
            for piece in body:
                sent += len(piece)
                slot.renew()
                yield piece
        except Exception as exc:
            # Headers are gone: re-raising makes the server drop the connection without the final
            # chunk, so the client sees a truncated download rather than a complete, short file.
            log.error("export %s stopped after %d bytes: %s", name, sent, error_line(exc))
            raise
        finally:  # read to the end, failed, or closed by the server (the client left, the deadline)
            slot.release()

    # No X-Accel-Buffering: a proxy in front buffers (README, "Behind a reverse proxy"), so a slow
    # client holds the proxy's memory or disk, not one of the app's threads.
    return Response(replay(), mimetype=FORMATS[chosen].split(";")[0], headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Type": FORMATS[chosen],
    })
