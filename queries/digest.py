"""The morning digest's SQL: the outcomes of a window counted as the overview counts them
(``queries.overview``: completed, failed and partial by end_time in the window, and a failed run
that never closed by its start_time), the worst CRMs of a window, the failed and partial runs of
an incident still open, and the ``digests`` / ``digest_deliveries`` rows that make one process of
all of them send each day's digest once (claimed with a conditional insert).

Windows are [start, end): a run that ended exactly at ``end`` belongs to the next one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from queries import outcomes
from queries._sql import Binds, Connectable, app_db, app_table, app_tables_exist, begin, connect, table

MAX_TIED = 200  # CRMs read back when several share the most failed and partial runs


def _in_window(b: Binds, start: datetime, end: datetime, column: str) -> str:
    return f"{column} >= {b.bind(start)} AND {column} < {b.bind(end)}"


def outcome_counts(db: Connectable, start: datetime, end: datetime) -> dict[str, int]:
    """``completed``, ``failed`` and ``partial`` runs of [start, end), by the overview's definition:
    two statements, so each can use its index (end_time; the status for the runs that never closed)."""
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        classes = {c: outcomes.in_class(conn, c) for c in outcomes.FINISHED}
        ended = b.frame(f"""
            SELECT COUNT(*) FILTER (WHERE {classes['success']}) AS completed,
                   COUNT(*) FILTER (WHERE {classes['failed']}) AS failed,
                   COUNT(*) FILTER (WHERE {classes['partial']}) AS partial
            FROM {h} WHERE {_in_window(b, start, end, 'end_time')}""").iloc[0]
        b = Binds(conn)
        died = b.frame(f"""
            SELECT COUNT(*) AS died FROM {h}
            WHERE {classes['failed']} AND end_time IS NULL AND {_in_window(b, start, end, 'start_time')}""").iloc[0]
    return {"completed": int(ended["completed"] or 0), "failed": int(ended["failed"] or 0) + int(died["died"] or 0),
            "partial": int(ended["partial"] or 0)}


def worst_crms(db: Connectable, start: datetime, end: datetime) -> list[dict]:
    """The CRMs with the most failed and partial runs in [start, end) (counted as ``outcome_counts``
    does; none when no run failed), each with ``crm_source``, ``failed``, ``partial`` and ``runs``
    (its finished runs in the window); at most MAX_TIED of them, the caller breaks the tie by name."""
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        success, failed, partial = (outcomes.in_class(conn, c) for c in outcomes.FINISHED)
        ended = _in_window(b, start, end, "end_time")
        died = f"end_time IS NULL AND {_in_window(b, start, end, 'start_time')}"
        frame = b.frame(f"""
            WITH per_crm AS (
                SELECT crm_source,
                       COUNT(*) FILTER (WHERE {failed}) AS failed,
                       COUNT(*) FILTER (WHERE {partial}) AS partial,
                       COUNT(*) FILTER (WHERE {success} OR {failed} OR {partial}) AS runs
                FROM {h}
                WHERE ({ended}) OR ({failed} AND {died})
                GROUP BY crm_source),
            ranked AS (SELECT p.*, failed + partial AS bad FROM per_crm p)
            SELECT crm_source, failed, partial, runs FROM ranked
            WHERE bad > 0 AND bad = (SELECT MAX(bad) FROM ranked)
            LIMIT {MAX_TIED}""")
    return [{"crm_source": row["crm_source"], "failed": int(row["failed"]), "partial": int(row["partial"]),
             "runs": int(row["runs"])} for row in frame.to_dict("records")]


def runs_lost(db: Connectable, crm_source: str, sync_type: str, since: datetime, end: datetime) -> int:
    """The failed and partial runs of one sync started in [since, end): an open incident's runs lost so far."""
    with connect(db) as conn:
        b = Binds(conn)
        h = table(conn, "sync_history")
        bad = outcomes.in_class(conn, "failed", "partial")
        frame = b.frame(f"""
            SELECT COUNT(*) AS n FROM {h}
            WHERE crm_source = {b.bind(crm_source)} AND sync_type = {b.bind(sync_type)} AND {bad}
              AND {_in_window(b, since, end, 'start_time')}""")
    return int(frame["n"].iloc[0] or 0)


# The digests sent: times are naive UTC, as in every app table.

def tables_exist(db: Connectable) -> bool:
    return app_tables_exist(db, "digest_deliveries")


def last_sent_day(db: Connectable) -> str | None:
    """The latest day whose digest went out to every channel."""
    with connect(app_db(db)) as conn:
        return conn.execute(text(f"SELECT MAX(day) FROM {app_table(conn, 'digests')} WHERE status = 'sent'")).scalar()


def claim(db: Connectable, day: str, now: datetime, by: str, stale_before: datetime, max_attempts: int,
          retry_before: datetime | None = None) -> bool:
    """Claim ``day``'s digest for this process: True for exactly one of any number of callers. The
    first inserts its row (ON CONFLICT DO NOTHING); later a row whose send failed (last claimed
    before ``retry_before``: on a later tick, not by a caller of the same one) or whose sender died
    while sending (claimed before ``stale_before``) may be claimed again, by one conditional update,
    while it has had fewer than ``max_attempts``."""
    with begin(app_db(db)) as conn:
        d = app_table(conn, "digests")
        params = {"day": day, "now": now, "by": by[:200], "stale": stale_before, "most": max_attempts,
                  "retry": now if retry_before is None else retry_before}
        inserted = conn.execute(text(f"""
            INSERT INTO {d} (day, status, attempts, claimed_at, claimed_by) VALUES (:day, 'sending', 1, :now, :by)
            ON CONFLICT (day) DO NOTHING"""), params).rowcount
        if inserted == 1:
            return True
        return conn.execute(text(f"""
            UPDATE {d} SET status = 'sending', attempts = attempts + 1, claimed_at = :now, claimed_by = :by
            WHERE day = :day AND attempts < :most
              AND ((status = 'failed' AND claimed_at <= :retry)
                   OR (status = 'sending' AND claimed_at < :stale))"""), params).rowcount == 1


def delivered(db: Connectable, day: str) -> set[tuple[str, str]]:
    """(channel, target) the day's digest reached already."""
    with connect(app_db(db)) as conn:
        rows = conn.execute(text(f"SELECT channel, target FROM {app_table(conn, 'digest_deliveries')} "
                                 "WHERE day = :day AND status = 'sent'"), {"day": day})
        return {(channel, target) for channel, target in rows}


def record_delivery(db: Connectable, day: str, channel: str, target: str, error: str | None, now: datetime) -> None:
    """One channel's attempt: sent (``error`` None) or failed with its error."""
    with begin(app_db(db)) as conn:
        params = {"day": day, "channel": channel, "target": target[:300], "status": "failed" if error else "sent",
                  "error": error, "sent": None if error else now}
        _upsert_delivery(conn, params)


def _upsert_delivery(conn: Connection, params: dict) -> None:
    dd = app_table(conn, "digest_deliveries")
    postgres = conn.dialect.name == "postgresql"  # an alias there; SQLite reads the bare column as the row's
    alias, prior = (" AS d", "d.attempts") if postgres else ("", "attempts")
    conn.execute(text(f"""
        INSERT INTO {dd}{alias} (day, channel, target, status, attempts, error, sent_at)
        VALUES (:day, :channel, :target, :status, 1, :error, :sent)
        ON CONFLICT (day, channel, target) DO UPDATE
        SET status = excluded.status, attempts = {prior} + 1, error = excluded.error,
            sent_at = excluded.sent_at"""), params)


def finish(db: Connectable, day: str, error: str | None, now: datetime) -> None:
    """The claimed day's send is over: ``sent``, or ``failed`` with the error (tried again next tick)."""
    with begin(app_db(db)) as conn:
        conn.execute(text(f"""
            UPDATE {app_table(conn, 'digests')} SET status = :status, error = :error,
                   sent_at = CASE WHEN :status = 'sent' THEN :now ELSE sent_at END
            WHERE day = :day"""), {"day": day, "status": "failed" if error else "sent", "error": error, "now": now})


def day_rows(db: Connectable, day: str) -> tuple[dict | None, list[dict]]:
    """The day's digest row and its deliveries (for operators and the tests)."""
    with connect(app_db(db)) as conn:
        row = conn.execute(text(f"SELECT * FROM {app_table(conn, 'digests')} WHERE day = :day"),
                           {"day": day}).mappings().first()
        deliveries = conn.execute(text(f"SELECT * FROM {app_table(conn, 'digest_deliveries')} WHERE day = :day "
                                       "ORDER BY channel, target"), {"day": day}).mappings().all()
    return (dict(row) if row else None), [dict(r) for r in deliveries]
