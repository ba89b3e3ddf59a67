"""A real Celery worker process for tests: ``celery -A dashapp.worker worker`` on its own queue,
started and stopped by the test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery import Celery

from dashapp.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def celery_worker(broker_url: str, queue: str, concurrency: int = 2, *, beat_schedule: Path | None = None,
                  log: Path | None = None, **env: str) -> Iterator[str]:
    """Start a worker consuming ``queue`` and its retries queue (first, as the worker does with
    no ``-Q``) with ``env`` added to its environment; yields its node name once it answers a
    ping, and stops it (cold) afterwards. With ``beat_schedule`` it runs beat too (``--beat``, that
    schedule file); with ``log`` its output, at INFO (each task's result), is appended to that file."""
    name = f"sm-test-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    environment = {**os.environ, "CELERY_BROKER_URL": broker_url, "CELERY_QUEUES": queue, "REDIS_URL": "", **env}
    queues = load_settings({"CELERY_QUEUES": queue, "RETRY_QUEUE": env.get("RETRY_QUEUE", "")}).worker_queues
    beat = ["--beat", "-s", str(beat_schedule)] if beat_schedule is not None else []
    output = log.open("ab") if log is not None else None
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dashapp.worker", "worker", *beat, "-n", name, "-Q", ",".join(queues),
         "--pool=threads", f"--concurrency={concurrency}", f"--loglevel={'INFO' if log else 'WARNING'}",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=environment, stdout=output or subprocess.DEVNULL, stderr=output or subprocess.PIPE)
    app = Celery(broker=broker_url)
    deadline = time.monotonic() + 30
    try:
        while name not in (app.control.inspect(timeout=0.5, destination=[name]).ping() or {}):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                said = log.read_bytes() if log is not None else process.stderr.read()
                pytest.fail(f"the Celery worker did not start: {said[-2000:].decode(errors='replace')}")
        yield name
    finally:
        app.close()
        process.send_signal(signal.SIGQUIT)  # cold shutdown: do not wait for held tasks
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if output is not None:
            output.close()
