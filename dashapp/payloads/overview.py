"""The overview's numbers, as the JSON the API serves and the page renders: the cards (``stats``),
every CRM's sync states (``crm_statuses``, ``all_crm_statuses``) and the recent activity (``recent``).

Each function runs the query functions from ``queries/`` and shapes their DataFrames into the
structures of docs/json-api.md. The page feeds the same records to its cards and grid, so the
screen and ``/api/...`` cannot disagree.

``as_of=True``: ``now`` is a past moment (a view's ``at``) and the answers are that moment's
(``queries.overview``, ``queries.crm_status``); they carry ``"at"``, and the sync states say what
they assumed (``"assumed"``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from dashapp import display
from dashapp.payloads.result_cache import shared
from dashapp.payloads.run_records import counts, run_record
from dashapp.payloads.runs import progress_json
from queries import crm_status as crm_status_queries
from queries import freshness, messages, run_detail, table_shape
from queries.crm_status import sync_states
from queries.overview import overview_counts
from queries.recent_runs import recent_runs
from queries.recent_syncs import recent_syncs

DEFAULT_LIMIT, MAX_LIMIT = 200, 1000  # CRMs per page of /api/crm-status


ASSUMED = crm_status_queries.ASSUMED


def _at(now: datetime, as_of: bool) -> dict:
    return {"at": display.iso_utc(now)} if as_of else {}


@shared("stats")
def stats(engine: Engine, now: datetime, as_of: bool = False) -> dict:
    return {"overview": overview_counts(engine, now, as_of).as_dict(), "timestamp": display.iso_utc(now),
            **_at(now, as_of)}


STRIP_RUNS = 30  # the ticks of a sync's latest runs on the overview


WORST_FIRST = ("failed", "partial", None, "running", "success")


def _type_record(row: dict) -> dict:
    ran = row.get("id") is not None and row["id"] == row["id"]
    return {
        "sync_type": row["sync_type"],
        "id": int(row["id"]) if ran else None,
        "last_sync": row["start_iso"] if ran else None,
        "status": display.text(row["status"]) if ran else None,
        "status_class": display.text(row["status_class"]) if ran else None,
        **counts(row),
        "duration_seconds": display.seconds(row["duration_seconds"]) if ran else None,
        **messages.fields("error_message", row["error_message"] if ran else None, row.get("error_message_length")),
        "state": row["state"],
        "state_label": freshness.LABELS[row["state"]],
        "state_reason": display.text(row["state_reason"]),
        "expected_at": row["expected_iso"],
        "overdue_seconds": round(float(row["overdue_seconds"]), 1),
        "next_sync": row["next_iso"],
        "next_sync_source": display.text(row["next_sync_source"]),
        "next_sync_note": display.text(row["next_sync_note"]),
    }


def _crm_record(crm: str, types: list[dict]) -> dict:
    """One CRM as the operators' scripts expect it (its most recent run, its soonest next sync)
    with every sync type's latest run under ``sync_types``, and its state: its worst type's."""
    newest = max(types, key=lambda t: (t["last_sync"] or "", t["id"] or 0))
    timed = [t for t in types if t["next_sync"]]
    soonest = min(timed, key=lambda t: t["next_sync"]) if timed else types[0]
    worst = min(types, key=lambda t: WORST_FIRST.index(t["status_class"]))
    worst_state = min(types, key=lambda t: (freshness.STATES.index(t["state"]), -t["overdue_seconds"]))
    return {
        "name": display.crm_name(crm),
        "crm_source": crm,
        "state": worst_state["state"],
        "state_label": worst_state["state_label"],
        "state_reason": (worst_state["state_reason"] if len(types) == 1
                         else f"{worst_state['sync_type']}: {worst_state['state_reason']}"),
        "expected_at": worst_state["expected_at"],
        "overdue_seconds": worst_state["overdue_seconds"],
        **{k: newest[k] for k in ("sync_type", "last_sync", "status", "status_class", "records_processed",
                                  "records_created", "records_updated", "records_failed", "duration_seconds")},
        **{k: newest[k] for k in PROGRESS if k in newest},
        "next_sync": soonest["next_sync"],
        "next_sync_source": soonest["next_sync_source"],
        "next_sync_note": soonest["next_sync_note"],
        "worst_status": worst["status"],
        "worst_status_class": worst["status_class"],
        "sync_types": sorted(types, key=lambda t: (freshness.STATES.index(t["state"]), t["sync_type"])),
    }


PROGRESS = ("expected_seconds", "expected_p95_seconds", "eta", "progress_percent", "overdue")


def _with_progress(engine: Engine, records: list[dict], now: datetime) -> None:
    """A running type's expected duration (median of its last 20 successes), ETA, progress and
    ``overdue`` (past their p95), from one statement over the running pairs."""
    running = [(r["crm_source"], r["sync_type"]) for r in records if r["status_class"] == "running"]
    expected = {}
    for chunk in range(0, len(running), run_detail.MAX_PAIRS):
        expected.update({(e["crm_source"], e["sync_type"]): e for e in run_detail.expected_durations(
            engine, running[chunk:chunk + run_detail.MAX_PAIRS]).to_dict("records")})
    for record in records:
        if record["status_class"] == "running":
            run = {"status_class": "running", "start_time": record["last_sync"],
                   "duration_seconds": record["duration_seconds"]}
            progress = progress_json(run, expected.get((record["crm_source"], record["sync_type"])), now)
            record.update({k: progress[k] for k in PROGRESS})


@shared("crm_status")
def all_crm_statuses(engine: Engine, now: datetime, as_of: bool = False) -> dict:
    """Every CRM, each with ``sync_types``, problems first (late, failing, ..., then by name);
    running ones carry ``expected_seconds``, ``eta``, ``progress_percent`` and ``overdue``."""
    records = [{**_type_record({**row, "start_iso": _iso(row["start_time"]), "expected_iso": _iso(row["expected_at"]),
                                "next_iso": _iso(row["next_sync"])}), "crm_source": row["crm_source"]}
               for row in sync_states(engine, now, as_of)]
    _with_progress(engine, records, now)
    by_crm: dict[str, list[dict]] = {}
    for record in records:
        by_crm.setdefault(record.pop("crm_source"), []).append(record)
    crms = [_crm_record(crm, types) for crm, types in by_crm.items()]
    crms.sort(key=lambda c: (freshness.STATES.index(c["state"]), -c["overdue_seconds"], c["name"].lower(),
                             c["crm_source"]))
    return {"crms": crms}


def _iso(moment: object) -> str | None:
    """An aware time (datetime or Timestamp) as ISO 8601 UTC with a Z; None for none (NaT too)."""
    if moment is None or moment != moment or not isinstance(moment, datetime):
        return None
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"  # four digits from year 1 on


def crm_statuses(engine: Engine, now: datetime, state: str | None = None, search: str = "",
                 limit: int = DEFAULT_LIMIT, offset: int = 0, strip: int = STRIP_RUNS, details: bool = True,
                 as_of: bool = False) -> dict:
    """``/api/crm-status``: a page of CRMs, problems first; ``state`` keeps the CRMs with a sync
    in that state, ``search`` those whose name, source or a sync type holds it (any case).
    ``total`` counts the CRMs that match, ``states`` every CRM by its state. Each sync type of
    the page carries ``recent_runs``: its latest ``strip`` runs, newest first. Without ``details``
    (anyone but an operator) a note does not name the role and tables beat's GRANT needs.
    ``as_of``: the CRMs at ``now``, a past moment, with ``at`` and ``assumed``."""
    crms = all_crm_statuses(engine, now, as_of)["crms"]
    counts = {name: 0 for name in freshness.STATES}
    for crm in crms:
        counts[crm["state"]] += 1
    needle = search.strip().casefold()
    matching = [c for c in crms
                if (state is None or any(t["state"] == state for t in c["sync_types"]))
                and (not needle or needle in c["name"].casefold() or needle in c["crm_source"].casefold()
                     or any(needle in str(t["sync_type"]).casefold() for t in c["sync_types"]))]
    page = [{**c, "sync_types": [dict(t) for t in c["sync_types"]]} for c in matching[offset:offset + limit]]
    if not details:
        found = table_shape.shape(engine)
        for entry in (e for c in page for e in (c, *c["sync_types"])):
            for key in ("next_sync_note", "state_reason"):
                entry[key] = table_shape.without_grant(entry.get(key), found)
    if strip > 0:
        pairs = [(c["crm_source"], t["sync_type"]) for c in page for t in c["sync_types"]]
        ticks: dict[tuple[str, str], list[dict]] = {}
        for row in recent_runs(engine, pairs, strip, now, as_of).to_dict("records"):
            ticks.setdefault((row["crm_source"], row["sync_type"]), []).append(
                {"id": int(row["id"]), "status": display.text(row["status"]),
                 "status_class": display.text(row["status_class"]), "start_time": display.iso_utc(row["start_time"])})
        for crm in page:
            for sync in crm["sync_types"]:
                sync["recent_runs"] = ticks.get((crm["crm_source"], sync["sync_type"]), [])
    return {"crms": page, "total": len(matching), "offset": offset, "limit": limit, "states": counts,
            "timestamp": display.iso_utc(now), **_at(now, as_of), **({"assumed": ASSUMED} if as_of else {})}


@shared("recent_syncs")
def recent(engine: Engine, limit: int, now: datetime, as_of: bool = False) -> dict:
    syncs = [run_record(row) for row in recent_syncs(engine, limit, now, as_of).to_dict("records")]
    return {"syncs": syncs, "total": len(syncs), **_at(now, as_of)}
