"""Retry handlers the tests' Celery workers load (RETRY_HANDLERS=tests.support.retry_handlers). What a
handler does comes from the failed run's configuration, which the test writes:
``{"records": 7}`` succeeds with 7 records, ``{"fail": "message"}`` raises it again,
``{"partial": "reason"}`` ends partial, ``{"sleep": s}`` takes that long first, ``{"gate": path}``
waits (up to a minute) until that file exists."""

from __future__ import annotations

import time
from pathlib import Path

from dashapp.recording.retry_handlers import handler


@handler("retrytest", "contacts")
def retry_contacts(run, payload: dict) -> dict:
    time.sleep(float(payload.get("sleep", 0)))
    deadline = time.monotonic() + 60
    while "gate" in payload and not Path(payload["gate"]).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if "fail" in payload:
        raise RuntimeError(payload["fail"])
    records = int(payload.get("records", 1))
    run.add(processed=records, created=records)
    if "partial" in payload:
        run.mark_partial(payload["partial"])
    return {"handler": "retry_contacts"}
