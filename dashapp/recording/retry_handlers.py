"""The handlers ``sync_monitor.retry_sync`` calls, one per (crm_source, sync_type). Register them in
a module named in RETRY_HANDLERS (the worker imports it at start):

    from dashapp.recording import handler

    @handler("hubspot", "contacts")
    def sync_contacts(run, payload):   # run: the recorder's SyncRun; payload: the failed run's configuration
        run.add(processed=..., created=...)
        return {"pages": 12}           # extra performance metrics, or None
"""

from __future__ import annotations

from collections.abc import Callable

Handler = Callable[..., dict | None]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handler(crm_source: str, sync_type: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        HANDLERS[(crm_source, sync_type)] = function
        return function
    return register
