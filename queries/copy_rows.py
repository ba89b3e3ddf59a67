"""The one writer of ``COPY ... FROM STDIN`` in the app: rows go to PostgreSQL in COPY's text
format, each value encoded here, so whatever text PostgreSQL holds comes back exactly: NULL
(``\\N``) distinct from '' (an empty field), carriage returns, newlines, tabs and backslashes
escaped, quotes, right-to-left marks, emoji and megabytes of text as they are. (A CSV written by
pandas cannot: it leaves '' unquoted, which COPY reads as NULL, and quoting is the only escape.)

Numbers are written vectorised (numpy), text a column at a time, and the rows joined in C, so a
day of rollup rows (~200 columns) encodes at about the speed pandas' CSV writer did.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time

import numpy as np
import pandas as pd
from sqlalchemy import Connection

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _moment(value: datetime | date | time) -> str:
    """A date or time as PostgreSQL reads it back, years below 1000 zero-padded ('0001-01-01')."""
    if isinstance(value, datetime):
        text = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.time().isoformat()}"
        offset = value.utcoffset()
        if offset is not None:
            seconds = int(offset.total_seconds())
            sign, seconds = ("+" if seconds >= 0 else "-"), abs(seconds)
            text += f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        return text
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    return value.isoformat()


def encode(value: object) -> str:
    """One value as a field of COPY's text format."""
    if value is None or value is pd.NaT:
        return NULL
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, (bool, np.bool_)):
        return "t" if value else "f"
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return NULL
        return "Infinity" if value == np.inf else "-Infinity" if value == -np.inf else repr(float(value))
    if isinstance(value, pd.Timestamp):
        return _moment(value.to_pydatetime())
    if isinstance(value, (datetime, date, time)):
        return _moment(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value).translate(_ESCAPES)


_SMALL = np.array([str(n) for n in range(4096)], dtype=object)  # the text of small counts, looked up


def _integers(values: np.ndarray) -> np.ndarray:
    """Integer fields as text: small non-negative ones (most counts) by one lookup, others by numpy."""
    if values.size and values.min() >= 0 and values.max() < len(_SMALL):
        return _SMALL[values]
    return values.astype(str).astype(object)


def _column(values: pd.Series) -> np.ndarray:
    """A frame's column as encoded fields: integers and floats without NULLs through numpy."""
    kind = values.dtype.kind
    if kind in "iu":
        return _integers(values.to_numpy())
    if kind == "f" and not values.isna().any() and np.isfinite(values.to_numpy()).all():
        return np.array([repr(v) for v in values.to_numpy(dtype=np.float64).tolist()], dtype=object)
    return np.array([NULL if _missing(v) else encode(v) for v in values.tolist()], dtype=object)


def _missing(value: object) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def encode_frame(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """``frame``'s ``columns`` as the body of a COPY in text format (NaN and NaT are NULL)."""
    if frame.empty:
        return ""
    cells = np.empty((len(frame), len(columns)), dtype=object)
    for position, name in enumerate(columns):
        cells[:, position] = _column(frame[name])
    return "\n".join(map("\t".join, cells.tolist())) + "\n"


def encode_rows(rows: Iterable[Sequence[object]]) -> str:
    """Rows of plain values as the body of a COPY in text format."""
    return "".join("\t".join(map(encode, row)) + "\n" for row in rows)


def copy_rows(conn: Connection, target: str, columns: Sequence[str],
              rows: pd.DataFrame | Iterable[Sequence[object]]) -> None:
    """Append ``rows`` (a frame holding ``columns``, or sequences in their order) to ``target``, a
    qualified table name made by the app (``app_table``), in ``conn``'s transaction: one COPY."""
    body = encode_frame(rows, columns) if isinstance(rows, pd.DataFrame) else encode_rows(rows)
    if not body:
        return
    names = ", ".join(f'"{name}"' for name in columns)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.copy_expert(f"COPY {target} ({names}) FROM STDIN", io.StringIO(body))
    finally:
        cursor.close()
