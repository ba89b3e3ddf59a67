"""Production serving: gunicorn with the repository's config file against the test database,
compressed responses, long-cache headers on fingerprinted assets, the proxy's client address."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from queries.clock import utc_now
from tests.conftest import closed_port
from tests.support.rows import edge_case_runs, expected_overview, insert_runs

ROOT = Path(__file__).resolve().parents[2]


def fetch(url: str, headers: dict[str, str] | None = None, deadline: float | None = None):
    while True:
        try:
            return urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5)
        except OSError:
            if deadline is None or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.slow
def test_gunicorn_with_the_config_file_serves_compressed_and_cached(pg_engine, postgres_url, tmp_path):
    import json

    runs = insert_runs(pg_engine, edge_case_runs(), utc_now())
    port = closed_port()
    env = {**os.environ, "DATABASE_URL": postgres_url, "PORT": str(port), "SQLITE_PATH": str(tmp_path / "x.db"),
           "SECRET_KEY": "serving-test"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        assert fetch(f"{base}/healthz", deadline=time.monotonic() + 60).status == 200
        stats = fetch(f"{base}/api/stats", {"Accept-Encoding": "gzip"})  # under 500 bytes: sent as it is
        assert "Content-Encoding" not in stats.headers
        assert json.loads(stats.read())["overview"] == expected_overview(runs)
        recent = fetch(f"{base}/api/recent-syncs", {"Accept-Encoding": "gzip"})
        assert recent.headers["Content-Encoding"] == "gzip"
        assert len(json.loads(gzip.decompress(recent.read()))["syncs"]) == min(20, len(runs))
        asset = fetch(f"{base}/assets/sync-monitor.css?m=1")
        assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        page = fetch(f"{base}/", {"Accept-Encoding": "gzip"})
        assert page.headers["Content-Encoding"] == "gzip" and b"Sync Monitor" in gzip.decompress(page.read())
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "Booting worker with pid" in output and output.count("Booting worker") == 2  # two workers
    assert '"GET /api/stats HTTP/1.1" 200' in output  # the access log


def test_the_client_address_behind_a_proxy():
    from flask import Flask, request

    from dashapp.config import load_settings
    from dashapp.web import serving

    seen = {}
    cases = {  # X-Forwarded-For counts only behind a proxy, and only from a trusted one
        "direct": {"BEHIND_PROXY": "false", "FORWARDED_ALLOW_IPS": "10.0.0.2"},
        "untrusted peer": {"BEHIND_PROXY": "true"},  # FORWARDED_ALLOW_IPS: 127.0.0.1
        "trusted peer": {"BEHIND_PROXY": "true", "FORWARDED_ALLOW_IPS": "10.0.0.0/24"},
    }
    for case, env in cases.items():
        app = Flask(case.replace(" ", "-"))
        serving.configure(app, load_settings(env))
        app.add_url_rule("/ip", "ip", lambda c=case: seen.setdefault(c, request.remote_addr) or "")
        app.test_client().get("/ip", environ_base={"REMOTE_ADDR": "10.0.0.2"},
                              headers={"X-Forwarded-For": "203.0.113.9"})
    assert seen == {"direct": "10.0.0.2", "untrusted peer": "10.0.0.2", "trusted peer": "203.0.113.9"}


def test_gunicorn_refuses_a_database_without_the_tables_before_booting_a_worker(postgres_url, tmp_path):
    """The master checks the warehouse before any worker boots: one line naming the missing table,
    status 3, no worker, no traceback (two workers failing at once made gunicorn halt with one)."""
    env = {**os.environ, "DATABASE_URL": postgres_url, "SYNC_SCHEMA": "no_such_schema_here", "WEB_CONCURRENCY": "2",
           "PORT": str(closed_port()), "SQLITE_PATH": str(tmp_path / "x.db"), "SECRET_KEY": "serving-test"}
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if "cannot start" in line]
    assert len(lines) == 1 and lines[0].startswith(
        "sync-monitor: cannot start: table no_such_schema_here.sync_history not found in postgresql"), done.stderr
    assert "Traceback" not in done.stderr and "Booting worker" not in done.stderr, done.stderr[-2000:]
