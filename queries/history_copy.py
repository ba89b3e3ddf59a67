"""The history export on PostgreSQL at COPY speed: ``COPY (SELECT ...) TO STDOUT WITH CSV``.

The SELECT is the export's own (``queries.history.export_select``), its bound values rendered
into the statement by psycopg2's quoting (COPY takes no parameters). The server writes CSV;
a worker thread moves it through a small bounded queue to the caller, so memory stays flat
and a slow client slows the COPY instead of filling memory.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Unpack

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from queries.history import EXPORT_COLUMNS, FilterValues, export_select

_DONE = object()
PIECE_BYTES = 64 * 1024


class _Stopped(Exception):
    pass


def _as_sqlalchemy(engine: Engine, statement: str, exc: BaseException) -> BaseException:
    """The driver's error as SQLAlchemy's (as every other query raises it), so callers handle one kind."""
    base = engine.dialect.loaded_dbapi.Error
    if isinstance(exc, base):
        return DBAPIError.instance(statement[:200], None, exc, base)  # type: ignore[arg-type]
    return exc


def copy_statement(engine: Engine, **values: Unpack[FilterValues]) -> str:
    with engine.connect() as conn:
        clause, binds = export_select(conn, iso_times=True, neutralise=True, **values)
        compiled = clause.bindparams(**binds.params).compile(dialect=conn.dialect)
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cursor:
            select = cursor.mogrify(str(compiled), compiled.params).decode()
    return f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER false)"


def copy_csv(engine: Engine, queue_size: int = 16, **values: Unpack[FilterValues]) -> Iterator[bytes]:
    """The CSV bytes of every matching row, a header first; raises FilterError before any I/O.
    The header waits for the first rows (or the end), so a COPY that fails at once raises before
    the first byte; one that fails later raises mid-stream, never ends as if complete."""
    statement = copy_statement(engine, **values)
    pieces: queue.Queue = queue.Queue(maxsize=queue_size)
    stop = threading.Event()

    class Pipe:
        """psycopg2 writes one row per call: gather them into ~64 KB pieces per hand-off."""

        def __init__(self) -> None:
            self.buffer = bytearray()

        def write(self, data: bytes | str) -> None:
            self.buffer += data if isinstance(data, bytes) else data.encode("utf-8")
            if len(self.buffer) >= PIECE_BYTES:
                self.flush()

        def flush(self) -> None:
            if stop.is_set():
                raise _Stopped()
            if self.buffer:
                pieces.put(bytes(self.buffer))
                self.buffer.clear()

    def run() -> None:
        raw = engine.raw_connection()
        try:
            pipe = Pipe()
            with raw.cursor() as cursor:
                cursor.copy_expert(statement, pipe)
            pipe.flush()
            raw.rollback()
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which re-raises it
            # First hand the failure on: a dead connection's rollback raises too, and a failure
            # the reader never sees would end the CSV as if it were complete.
            pieces.put(exc)
            with contextlib.suppress(Exception):
                raw.invalidate() if isinstance(exc, _Stopped) else raw.rollback()
        finally:
            with contextlib.suppress(Exception):
                raw.close()
            pieces.put(_DONE)

    worker = threading.Thread(target=run, name="history-copy", daemon=True)
    worker.start()
    header = (",".join(EXPORT_COLUMNS) + "\n").encode()
    try:
        while (piece := pieces.get()) is not _DONE:
            if isinstance(piece, BaseException):
                if isinstance(piece, _Stopped):
                    return
                # before the header when nothing came yet: the caller can still answer 503
                raise _as_sqlalchemy(engine, statement, piece)
            if header:
                piece, header = header + piece, b""
            yield piece
        if header:
            yield header  # no rows
    finally:
        stop.set()
        while worker.is_alive():  # drain, so a blocked put() sees the stop and the COPY ends
            with contextlib.suppress(queue.Empty):
                pieces.get(timeout=0.05)
