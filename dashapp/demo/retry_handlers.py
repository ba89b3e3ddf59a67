"""Retry handlers for the embedded demo's CRMs (the worker imports this module when no
DATABASE_URL is set): a retry fetches a typical volume and succeeds, except that one in ten hits
the job's first error again, so the console shows both outcomes."""

from __future__ import annotations

import random
import time

from dashapp.demo.embedded import JOBS, Job
from dashapp.recording import handler

_rng = random.Random()


def _register(job: Job) -> None:
    @handler(job.crm, job.sync_type)
    def retry(run, payload: dict) -> None:
        time.sleep(min(job.seconds / 60.0, 3.0))  # long enough to be seen running
        if _rng.random() < 0.1:
            raise RuntimeError(job.errors[0].split("|", 1)[-1] if job.errors else "retry failed")
        records = max(1, int(_rng.gauss(job.volume, job.volume / 5)))
        updated = records // 3
        run.add(processed=records, created=records - updated, updated=updated)


for _job in JOBS:
    _register(_job)
