"""Long texts on their way to the browser: a run's ``error_message`` (sync code writes one of any
size: 1 MB happens), a retry's error, a configuration, are cut in SQL to a bound with their full
length in characters beside them, so a page never carries more than a few KB of one message.
The whole message is read on demand, a chunk at a time (``message_chunk``), for the pages'
"show all" control and ``GET /api/runs/<id>/error``.

SUBSTR and LENGTH count characters on both PostgreSQL (a UTF-8 database) and SQLite, so a cut
never splits a character, a 4-byte emoji included, and a length equals ``LENGTH()`` in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from queries._sql import Binds, Connectable, app_db, app_table, connect, table

MESSAGE_BOUND = 4000  # characters of one message in a detail view: the run page, an operation's details
LIST_BOUND = 1000  # characters of a message in a short list (the errors page's latest runs)
ROW_BOUND = 100  # characters of a message in a row of a grid or a long list (up to 500 rows) and its tooltip
TEXT_BOUND = 4000  # characters of another text shown whole when short: configuration JSON, metrics
CHUNK = 80_000  # characters in one "show all" answer: < 500 KB of JSON even at 6 bytes a character
MAX_CHUNK = CHUNK


def cut(column: str, alias: str, bound: int) -> str:
    """SELECT items: the first ``bound`` characters of ``column`` as ``alias`` and its length in
    characters as ``<alias>_length`` (NULL for NULL)."""
    return f"SUBSTR({column}, 1, {int(bound)}) AS {alias}, LENGTH({column}) AS {alias}_length"


def cut_text(column: str, alias: str, bound: int) -> str:
    """``cut`` of a column that may not be text (JSON, JSONB): of its text form."""
    return cut(f"CAST({column} AS TEXT)", alias, bound)


def length_of(value: object) -> int | None:
    """A ``<alias>_length`` read back: an int, or None for NULL."""
    if value is None:
        return None
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None  # NaN: a NULL in a numeric column of a DataFrame


def fields(name: str, text: object, length: object) -> dict:
    """A message's JSON fields: ``name`` (the shown text, None for none), ``<prefix>_length`` (its
    full length in characters) and ``<prefix>_truncated``. The prefix of ``error_message`` and
    ``error`` is ``message``: ``message_length``, ``message_truncated``."""
    prefix = "message" if name in ("error_message", "error") else name
    shown = text if isinstance(text, str) else None
    full = length_of(length) if shown is not None else None
    return {name: shown, f"{prefix}_length": full,
            f"{prefix}_truncated": bool(shown is not None and full is not None and full > len(shown))}


@dataclass(frozen=True)
class Chunk:
    """A piece of a stored message: ``text`` from character ``offset`` (0-based), the message's
    full ``length``, and where the next piece starts (None at the end)."""

    text: str | None
    offset: int
    length: int | None
    next_offset: int | None


# Which messages "show all" reads: the run's error, the failed operation's latest retry error.
SOURCES = ("error_message", "last_error")


def message_chunk(db: Connectable, run_id: int, source: str = "error_message", offset: int = 0,
                  size: int = CHUNK) -> Chunk | None:
    """``size`` characters of a stored message from ``offset``, cut in SQL; None when there is no
    such run (``error_message``) or no failed operation of it (``last_error``)."""
    size = max(1, min(int(size), MAX_CHUNK))
    offset = max(0, int(offset))
    if source == "last_error":
        where_db, what = app_db(db), ("failed_operations", "last_error", "sync_id")
    else:
        where_db, what = db, ("sync_history", "error_message", "id")
    with connect(where_db) as conn:
        b = Binds(conn)
        name, column, key = what
        t = app_table(conn, name) if source == "last_error" else table(conn, name)
        frame = b.frame(f"SELECT SUBSTR({column}, {offset + 1}, {size}) AS piece, LENGTH({column}) AS length "
                        f"FROM {t} WHERE {key} = {b.bind(int(run_id))}")
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    length = length_of(row["length"])
    piece = row["piece"] if isinstance(row["piece"], str) else None
    if length is None:
        return Chunk(None, offset, None, None)
    end = offset + len(piece or "")
    return Chunk(piece or "", offset, length, end if end < length else None)
