"""Two instances of the app (gunicorn, 2 worker processes each) behind one real
nginx (round robin), sharing one Redis, one database (the user's tables as the warehouse deploys
them, the app's tables made by ``python app.py db upgrade``), one SECRET_KEY and one users file,
behave as one: a session signed in through one acts through the other and a sign-out ends it on
both; the health snapshot, the sign-in limits and the result cache are shared; the rollup refresh
and the alert evaluation run once per interval, not once per instance or scheduler; a retry asked
for through both at once is sent to Celery once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import Engine, select

from dashapp.auth.users import add_user
from dashapp.payloads import result_cache
from dashapp.storage import periodic
from dashapp.storage.app_tables import rollup_state
from dashapp.storage.db import postgres_engine
from queries import alert_state
from queries._sql import app_db
from queries.clock import utc_now
from tests import conftest
from tests.alerts.test_notifications import Hooks
from tests.conftest import DEPLOYED_TIMEZONE, REDIS_URL, empty_redis
from tests.support import deployed_shape
from tests.support.celery_worker import celery_worker
from tests.support.gunicorn_server import ROOT, gunicorn
from tests.support.nginx import NginxServer, nginx
from tests.support.rows import Run, insert_runs

PASSWORD = "correct horse battery"
COOKIE = "sync_monitor_session"
MAX_FAILURES = 4
ROLLUP_SECONDS = 1
ALERT_SECONDS = 5  # ALERT_INTERVAL_SECONDS' least value
M = timedelta(minutes=1)


@dataclass
class Pair:
    a: str  # instance A's base URL, addressed directly
    b: str
    proxy: NginxServer  # round robin over both
    engine: Engine  # the shared database
    database_url: str
    queue: str  # the instances' Celery queue (no worker consumes it: a retry stays queued)
    logs: list[Path]
    failed_id: int  # a failed run to retry
    tmp: Path

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(REDIS_URL)


def _upgrade(database_url: str, tmp: Path) -> None:
    """``python app.py db upgrade``: the app's tables, and the rollups built from the runs."""
    env = {**os.environ, "DATABASE_URL": database_url, "SQLITE_PATH": str(tmp / "x.db")}
    done = subprocess.run([sys.executable, "app.py", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("two_instances")
    empty_redis()
    name = f"sm_two_instances_{uuid.uuid4().hex[:10]}"
    with conftest.test_database(name, DEPLOYED_TIMEZONE, deployed_shape.create) as url:
        engine = postgres_engine(url, "orchestration")
        now = utc_now()
        (failed,) = insert_runs(engine, [Run("retrycrm", "contacts", "failed", 2 * M, M, error="HTTPError: 502",
                                             configuration={"records": 3})], now)
        insert_runs(engine, [Run("twocrm", "contacts", "success", (i + 2) * M, (i + 1) * M, processed=10 * (i + 1))
                             for i in range(5)], now)
        _upgrade(url, tmp)
        users = tmp / "users.json"
        for name, role in (("alice", "operator"), ("bob", "viewer"), ("carol", "operator")):
            add_user(users, name, role, PASSWORD)
        queue = f"sm_two_{uuid.uuid4().hex[:8]}"
        env = {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": REDIS_URL, "CELERY_QUEUES": queue,
               "AUTH_USERS_FILE": str(users), "SECRET_KEY": "one key for every instance",
               "SIGN_IN_MAX_FAILURES": str(MAX_FAILURES), "HEALTH_CACHE_SECONDS": "60", "CACHE_SECONDS": "60",
               "ROLLUP_REFRESH_SECONDS": str(ROLLUP_SECONDS), "BEHIND_PROXY": "true", "LOG_LEVEL": "debug"}
        logs = [tmp / "a.log", tmp / "b.log"]
        with ExitStack() as stack:
            a = stack.enter_context(gunicorn(env, tmp, log=logs[0]))
            b = stack.enter_context(gunicorn(env, tmp, log=logs[1]))
            proxy = stack.enter_context(nginx(tmp, [a.removeprefix("http://"), b.removeprefix("http://")]))
            yield Pair(a, b, proxy, engine, url, queue, logs, int(failed.id), tmp)
        engine.dispose()


def sign_in(base: str, name: str, password: str = PASSWORD) -> requests.Response:
    return requests.post(f"{base}/auth/sign-in", data={"username": name, "password": password, "next": "/alerts"},
                         allow_redirects=False, timeout=10)


def session_of(base: str, name: str) -> dict[str, str]:
    answer = sign_in(base, name)
    assert answer.status_code == 303 and answer.headers["Location"] == "/alerts", answer.headers
    return {COOKIE: answer.cookies[COOKIE]}


def audit(base: str, cookies: dict[str, str]) -> list[dict]:
    answer = requests.get(f"{base}/api/audit?limit=500", cookies=cookies, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["audit"]


def test_signed_in_through_one_acts_through_the_other(pair):
    with app_db(pair.engine).begin() as conn:
        alert_id = alert_state.fire(conn, "error_rate", "twocrm", "critical", "3 of 5 runs failed", 60.0,
                                    utc_now().replace(tzinfo=None))
    cookies = session_of(pair.a, "alice")
    acted = requests.post(f"{pair.b}/api/alerts/{alert_id}/acknowledge", cookies=cookies, timeout=10)
    assert acted.status_code == 200, acted.text
    again = requests.post(f"{pair.a}/api/alerts/{alert_id}/acknowledge", cookies=cookies, timeout=10)
    assert again.status_code == 409  # A sees what B did
    listed = requests.get(f"{pair.proxy.base}/api/alerts?state=firing", timeout=10).json()["alerts"]
    assert [(x["id"], x["acknowledged_by"]) for x in listed if x["subject"] == "twocrm"] == [(alert_id, "alice")]
    entries = [e for e in audit(pair.a, cookies) if e["action"] == "alert_acknowledge"]
    assert [(e["actor"], e["target"], e["result"]) for e in entries] == [
        ("alice", f"alert {alert_id}", "none"), ("alice", f"alert {alert_id}", "ok")]  # newest first
    # through the proxy the same session is served by both instances in turn
    served_before = len(pair.proxy.requests())
    for _ in range(6):
        assert requests.get(f"{pair.proxy.base}/api/audit", cookies=cookies, timeout=10).status_code == 200
    upstreams = {upstream for _status, _uri, upstream in pair.proxy.requests()[served_before:]}
    assert upstreams == {pair.a.removeprefix("http://"), pair.b.removeprefix("http://")}


def test_signing_out_through_one_ends_the_session_on_both(pair):
    cookies = session_of(pair.a, "alice")
    assert requests.get(f"{pair.b}/api/audit", cookies=cookies, timeout=10).status_code == 200
    signed_out = requests.post(f"{pair.b}/auth/sign-out", cookies=cookies, allow_redirects=False, timeout=10)
    assert signed_out.status_code == 303
    for base in (pair.a, pair.b, pair.proxy.base):
        assert requests.get(f"{base}/api/audit", cookies=cookies, timeout=10).status_code == 401, base
    assert requests.get(f"{pair.a}/api/audit", cookies=session_of(pair.b, "alice"), timeout=10).status_code == 200


def test_the_health_snapshot_is_probed_once_and_served_by_both(pair):
    client = pair.redis()
    for key in client.scan_iter("sync_monitor:health:*"):
        client.delete(key)
    first = requests.get(f"{pair.a}/api/system-health", timeout=10).json()
    second = requests.get(f"{pair.b}/api/system-health", timeout=10).json()
    assert first["checked_at"] == second["checked_at"]
    services = ("database", "redis", "celery", "impossible_times")  # "app" is the answering process's own
    assert [first[k] for k in services] == [second[k] for k in services]
    assert first["database"]["status"] != "unhealthy" and first["redis"]["status"] != "unhealthy"
    cached = [json.loads(client.get(k)) for k in client.scan_iter("sync_monitor:health:v2:*")]
    assert [c["snapshot"]["checked_at"] for c in cached] == [first["checked_at"]]  # one probe round, in Redis


def _sign_in_answer(base: str, password: str) -> str:
    """invalid, locked, or signed-in."""
    answer = sign_in(base, "carol", password)
    location = answer.headers.get("Location", "")
    return "signed-in" if location == "/alerts" else re.search(r"error=(\w+)", location).group(1)


def test_wrong_passwords_spread_over_both_lock_after_the_same_number_as_on_one(pair):
    answers = [_sign_in_answer(base, f"guess {n}") for n, base in enumerate([pair.a, pair.b] * 3)]
    assert answers == ["invalid"] * MAX_FAILURES + ["locked"] * 2
    assert [_sign_in_answer(base, PASSWORD) for base in (pair.a, pair.b, pair.proxy.base)] == ["locked"] * 3
    held = pair.redis().hget("sync-monitor:sign-in-failures:pair:127.0.0.1|carol", "count")
    assert int(held) == MAX_FAILURES


def test_a_result_computed_through_one_is_served_from_redis_by_the_other(pair):
    client = pair.redis()
    for key in client.scan_iter(f"{result_cache.PREFIX}stats:*"):
        client.delete(key)
    before = requests.get(f"{pair.a}/api/stats", timeout=10).json()["overview"]
    (key,) = [k for k in client.scan_iter(f"{result_cache.PREFIX}stats:*") if not k.endswith(b":lock")]
    now = utc_now()
    insert_runs(pair.engine, [Run("twocrm", "contacts", "success", M, timedelta(seconds=10), processed=7)], now)
    served = requests.get(f"{pair.b}/api/stats", timeout=10).json()["overview"]
    assert served == before == json.loads(client.get(key))["value"]["overview"]  # B read A's answer, not the database
    client.delete(key)
    fresh = requests.get(f"{pair.b}/api/stats", timeout=10).json()["overview"]
    assert fresh["completed_today"] == before["completed_today"] + 1


def _wait_until(condition, seconds: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def _logged(pair: Pair, line: str) -> int:
    return sum(log.read_text(errors="replace").count(line) for log in pair.logs)


def test_the_rollup_refresh_runs_once_per_cycle_not_once_per_process(pair):
    """Four refresh loops (two instances, two worker processes each) every ROLLUP_REFRESH_SECONDS:
    one refresh per cycle in all, logged by the process that made it; the others leave it."""
    assert _wait_until(lambda: periodic.last(pair.engine, periodic.ROLLUPS) is not None, 15)
    start = periodic.last(pair.engine, periodic.ROLLUPS)
    left_before = _logged(pair, "rollups: cycle left to the process that claimed it")
    began = time.monotonic()
    assert _wait_until(lambda: periodic.last(pair.engine, periodic.ROLLUPS)["runs"] >= start["runs"] + 4, 30)
    elapsed = time.monotonic() - began
    end = periodic.last(pair.engine, periodic.ROLLUPS)
    cycles = end["runs"] - start["runs"]
    # claims are at least 0.9 of a cycle apart: never more than that allows (four loops unclaimed: 4 a cycle)
    assert cycles <= elapsed / periodic.least_gap(ROLLUP_SECONDS) + 1, (cycles, elapsed)
    assert _logged(pair, "rollups: cycle left to the process that claimed it") - left_before >= cycles
    assert _wait_until(lambda: _logged(pair, "rollups: refreshed:") >= end["runs"], 5)
    assert _logged(pair, "rollups: refreshed:") <= periodic.last(pair.engine, periodic.ROLLUPS)["runs"]
    with app_db(pair.engine).connect() as conn:
        refreshed = conn.execute(select(rollup_state.c.refreshed_at).where(rollup_state.c.name == "runs")).scalar()
    assert refreshed >= start["started_at"]


def beat_worker(pair: Pair, queue: str, log: Path, **env: str) -> AbstractContextManager[str]:
    """``celery -A dashapp.worker worker --beat`` on ``queue`` (tests/support/celery_worker.py), its
    own beat schedule file, its output in ``log``; stopped at the end."""
    return celery_worker(REDIS_URL, queue, beat_schedule=log.with_suffix(".schedule"), log=log,
                         DATABASE_URL=pair.database_url, REDIS_URL=REDIS_URL, SQLITE_PATH=str(pair.tmp / "x.db"), **env)


def _evaluations(logs: list[Path]) -> list[str]:
    """The results of every sync_monitor.evaluate_alerts task the workers ran."""
    pattern = re.compile(r"Task sync_monitor\.evaluate_alerts\[[^\]]+\] succeeded in [\d.]+s: '([^']*)'")
    return [m.group(1) for log in logs if log.exists() for m in pattern.finditer(log.read_text(errors="replace"))]


def test_two_beats_evaluate_the_alerts_once_per_interval_and_notify_once(pair):
    now = utc_now()
    insert_runs(pair.engine, [Run("hookcrm", "contacts", "failed", (i + 1) * 5 * M, (i + 1) * 5 * M - M,
                                  error="HTTPError: 502") for i in range(10)], now)
    hooks = Hooks()
    queue = f"sm_beat_{uuid.uuid4().hex[:8]}"
    logs = [pair.tmp / f"beat-{n}.log" for n in range(2)]
    env = {"ALERT_INTERVAL_SECONDS": str(ALERT_SECONDS), "ALERT_WEBHOOK_URLS": f"{hooks.url}/hook"}
    try:
        with beat_worker(pair, queue, logs[0], **env), beat_worker(pair, queue, logs[1], **env):
            assert _wait_until(lambda: len(_evaluations(logs)) >= 4, 8 * ALERT_SECONDS), _evaluations(logs)
    finally:
        hooks.server.shutdown()
    results = _evaluations(logs)
    evaluated = [r for r in results if not r.startswith("skipped: this interval was evaluated already")]
    # each beat sent one per interval: one of each interval's two evaluated (a first claim made much
    # later than its tick, by a loaded machine's cold worker, may also skip the second interval's)
    assert 1 <= len(evaluated) <= (len(results) + 1) // 2, results
    assert periodic.last(pair.engine, periodic.ALERTS)["runs"] == len(evaluated)
    firing = sorted(body["alert"]["rule"] for _path, body in hooks.received
                    if body["event"] == "firing" and body["alert"]["subject"] == "hookcrm")
    assert firing == ["error_rate", "success_rate"]  # each once


def test_a_retry_asked_through_both_at_once_is_sent_once(pair):
    sessions = [session_of(pair.a, "alice"), session_of(pair.b, "alice")]
    gate = threading.Barrier(2)

    def ask(base_and_cookies: tuple[str, dict[str, str]]) -> int:
        base, cookies = base_and_cookies
        gate.wait(timeout=30)
        return requests.post(f"{base}/api/failed-operations/{pair.failed_id}/retry", cookies=cookies,
                             timeout=30).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(ask, zip((pair.a, pair.b), sessions, strict=True)))
    assert statuses == [202, 409]
    assert pair.redis().llen(f"{pair.queue}_retries") == 1
    operation = requests.get(f"{pair.proxy.base}/api/failed-operations/{pair.failed_id}", cookies=sessions[0],
                             timeout=10).json()
    assert (operation["state"], operation["attempts"]) == ("queued", 1)
    retries = [e for e in audit(pair.b, sessions[1]) if e["action"] == "retry"]
    assert sorted((e["actor"], e["result"], e["operations"]) for e in retries) == [("alice", "none", 0),
                                                                                  ("alice", "ok", 1)]
