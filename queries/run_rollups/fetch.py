"""Reading rollup-sized results: on PostgreSQL straight through the driver's cursor (SQLAlchemy's
rows cost more than the query on tens of thousands of rows or ~200 columns), elsewhere ``b.frame``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from queries._sql import Binds, sql


def driver_rows(b: Binds, statement: str) -> tuple[list[tuple], list[str]]:
    """``statement``'s rows and column names from the PostgreSQL driver's cursor."""
    compiled = sql(statement, params=tuple(b.time_params)).compile(dialect=b.conn.dialect)
    cursor = b.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), b.params)
        return cursor.fetchall(), [d[0] for d in cursor.description]
    finally:
        cursor.close()


def driver_frame(b: Binds, statement: str) -> pd.DataFrame:
    """``b.frame(statement)`` (no time columns); on PostgreSQL through ``driver_rows``: a day's
    tens of thousands of (key, bucket) rows cost less without SQLAlchemy's rows."""
    if not b.postgres:
        return b.frame(statement)
    rows, names = driver_rows(b, statement)
    return pd.DataFrame(rows, columns=names)


def wide_rows(b: Binds, statement: str, keys: int) -> tuple[list[tuple], np.ndarray, list[str]]:
    """``statement``'s first ``keys`` columns as tuples and the numbers after them as one float
    array; on PostgreSQL through ``driver_rows``, since making SQLAlchemy rows of ~200 columns
    costs more than the query. Also returns the column names."""
    if not b.postgres:
        frame = b.frame(statement)
        return (list(frame.iloc[:, :keys].itertuples(index=False, name=None)),
                frame.iloc[:, keys:].to_numpy(dtype=np.float64), list(frame.columns))
    rows, names = driver_rows(b, statement)
    numbers = np.array([row[keys:] for row in rows], dtype=np.float64).reshape(len(rows), len(names) - keys)
    return [row[:keys] for row in rows], numbers, names


def wide_frame(b: Binds, statement: str, keys: int) -> pd.DataFrame:
    """``b.frame(statement)`` through ``wide_rows``: the numbers made one block (pandas would
    infer each column's type)."""
    key_rows, numbers, names = wide_rows(b, statement, keys)
    frame = pd.DataFrame(numbers, columns=names[keys:])
    for position, name in enumerate(names[:keys]):
        frame.insert(position, name, [row[position] for row in key_rows])
    return frame
