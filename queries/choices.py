"""The values the history's quick filters offer: distinct CRMs, statuses and sync types.

SELECT DISTINCT would read every row; these "skip scans" hop through the user's indexes
((crm_source, sync_type) and (status)) one distinct value at a time, so they cost a few index
probes per value however many rows there are.
"""

from __future__ import annotations

from queries._sql import Connectable, connect, sql, table

_DISTINCT = """
WITH RECURSIVE v(x) AS (
    SELECT MIN({col}) FROM {h}
    UNION ALL
    SELECT (SELECT MIN(n.{col}) FROM {h} n WHERE n.{col} > v.x) FROM v WHERE v.x IS NOT NULL
)
SELECT x FROM v WHERE x IS NOT NULL
"""

# Walks (crm_source, sync_type) pairs in index order: the next sync_type of the same CRM, or
# else the first sync_type of the next CRM.
PAIRS_CTE = """
WITH RECURSIVE pairs(c, t) AS (
    SELECT m.c, (SELECT MIN(n.sync_type) FROM {h} n WHERE n.crm_source = m.c)
    FROM (SELECT MIN(crm_source) AS c FROM {h}) m
    UNION ALL
    SELECT
        CASE WHEN (SELECT MIN(n.sync_type) FROM {h} n WHERE n.crm_source = p.c AND n.sync_type > p.t) IS NOT NULL
             THEN p.c
             ELSE (SELECT MIN(n.crm_source) FROM {h} n WHERE n.crm_source > p.c) END,
        COALESCE(
            (SELECT MIN(n.sync_type) FROM {h} n WHERE n.crm_source = p.c AND n.sync_type > p.t),
            (SELECT MIN(n.sync_type) FROM {h} n
             WHERE n.crm_source = (SELECT MIN(m.crm_source) FROM {h} m WHERE m.crm_source > p.c)))
    FROM pairs p WHERE p.c IS NOT NULL
)"""
_SYNC_TYPES = PAIRS_CTE + "\nSELECT DISTINCT t FROM pairs WHERE c IS NOT NULL AND t IS NOT NULL ORDER BY t"
_PAIRS = PAIRS_CTE + "\nSELECT c, t FROM pairs WHERE c IS NOT NULL AND t IS NOT NULL"


def distinct_values(db: Connectable, column: str) -> list[str]:
    """Sorted distinct values of ``crm_source``, ``status`` or ``sync_type``."""
    with connect(db) as conn:
        h = table(conn, "sync_history")
        if column == "sync_type":
            statement = _SYNC_TYPES.format(h=h)
        elif column in ("crm_source", "status"):
            statement = _DISTINCT.format(h=h, col=column)
        else:
            raise ValueError(f"no distinct values for {column!r}")
        return [row[0] for row in conn.execute(sql(statement))]


FILTER_COLUMNS = ("crm_source", "status", "sync_type")


def filter_values(db: Connectable) -> dict[str, list[str]]:
    """``distinct_values`` of each of crm_source, status and sync_type, on one connection: one
    skip scan each."""
    with connect(db) as conn:
        return {column: distinct_values(conn, column) for column in FILTER_COLUMNS}


def crm_sync_type_pairs(db: Connectable) -> list[tuple[str, str]]:
    """Every (crm_source, sync_type) pair, by the same skip scan."""
    with connect(db) as conn:
        return [(row[0], row[1]) for row in conn.execute(sql(_PAIRS.format(h=table(conn, "sync_history"))))]
