"""The app under real gunicorn with the repository's gunicorn.conf.py (2 worker processes, 8
threads each), for tests that need a real server: concurrent bursts across processes, chunked
request bodies, several instances behind one nginx (tests/deploy/)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import closed_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def gunicorn(env: dict[str, str], tmp_path: Path, port: int | None = None, log: Path | None = None
             ) -> Iterator[str]:
    """gunicorn serving the app with ``env`` (DATABASE_URL and the rest) on ``port`` (default a
    free one); yields its base URL (without URL_PREFIX, which its readiness check follows), and
    stops it at the end. With ``log``, gunicorn's output (its access log and the app's log) is
    written to that file."""
    port = port or closed_port()
    full = {**os.environ, "PORT": str(port), "SQLITE_PATH": str(tmp_path / "x.db"), "SECRET_KEY": "gunicorn-test",
            "WEB_CONCURRENCY": "2", **env}
    output = log.open("ab") if log else subprocess.DEVNULL
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"], cwd=ROOT,
                               env=full, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    healthz = base + "/" + "".join(part + "/" for part in env.get("URL_PREFIX", "").split("/") if part) + "healthz"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if urllib.request.urlopen(healthz, timeout=5).status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        if log:
            output.close()
