"""The sign-in limit holds under a burst. An attempt reserves its place before its
password is checked, atomically across gunicorn's worker processes (Redis, or a locked row in the
app's tables), so 40 concurrent wrong passwords get no more password checks than
SIGN_IN_MAX_FAILURES, and 100 more at once, the right password among them, do not sign in."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from dashapp.auth.audit import SUMMARIZED
from queries import failed_operations as queries
from tests.conftest import empty_app_tables
from tests.security.conftest import PASSWORD
from tests.support.gunicorn_server import gunicorn

MAX_FAILURES = 5


def burst(url: str, passwords: list[str], auth: bool = False) -> list[str]:
    """Send every attempt at once (all threads released together); what each was answered:
    invalid, locked, signed-in (the form), or the API's status code."""
    gate = threading.Barrier(len(passwords))

    def one(password: str) -> str:
        gate.wait(timeout=60)
        if auth:
            return str(requests.get(f"{url}/api/audit", auth=("alice", password), timeout=120).status_code)
        form = {"username": "alice", "password": password, "next": "/failed"}
        answer = requests.post(f"{url}/auth/sign-in", data=form, allow_redirects=False, timeout=120)
        location = answer.headers.get("Location", "")
        return "signed-in" if location == "/failed" else location.split("error=", 1)[-1].split("&", 1)[0]

    with ThreadPoolExecutor(len(passwords)) as pool:
        return list(pool.map(one, passwords))


@pytest.fixture(params=["redis", "tables"])
def served(request, pg_engine, postgres_url, users_file, redis_url, tmp_path):
    empty_app_tables(pg_engine)
    env = {"DATABASE_URL": postgres_url, "AUTH_USERS_FILE": str(users_file),
           "SIGN_IN_MAX_FAILURES": str(MAX_FAILURES), **({"REDIS_URL": redis_url} if request.param == "redis" else {})}
    with gunicorn(env, tmp_path) as url:
        yield request.param, url


@pytest.mark.slow
def test_a_burst_gets_no_more_password_checks_than_the_limit(served, pg_engine, redis_url):
    store, url = served
    first = burst(url, [f"guess {n}" for n in range(40)])
    assert first.count("invalid") == MAX_FAILURES and first.count("locked") == 40 - MAX_FAILURES, first
    passwords = [f"guess {n}" for n in range(99)]
    passwords.insert(50, PASSWORD)
    second = burst(url, passwords)
    assert second == ["locked"] * 100  # the right password among them waits like the rest
    # the audit counts them: the checked failures and the refusals, each as summaries
    rows = [r for r in queries.audit(pg_engine, 50).to_dict("records") if r["action"] == "sign_in"]
    assert {r["result"] for r in rows} == {SUMMARIZED} and len(rows) <= 4  # a minute's end may split one
    assert sum(r["repeats"] for r in rows if r["detail"] == "failed") == MAX_FAILURES
    assert sum(r["repeats"] for r in rows if r["detail"] == "refused: too many attempts") == 135
    if store == "redis":
        held = redis.Redis.from_url(redis_url).hget("sync-monitor:sign-in-failures:pair:127.0.0.1|alice", "count")
        assert int(held) == MAX_FAILURES


@pytest.mark.slow
def test_http_basic_holds_under_a_burst_too(served):
    _store, url = served
    answers = burst(url, [f"guess {n}" for n in range(30)], auth=True)
    assert answers.count("401") == MAX_FAILURES and answers.count("429") == 30 - MAX_FAILURES, answers
    assert set(burst(url, [PASSWORD] * 10, auth=True)) == {"429"}


@pytest.mark.slow
def test_the_right_password_within_the_limit_signs_in(served):
    _store, url = served
    answers = burst(url, [PASSWORD] + [f"guess {n}" for n in range(MAX_FAILURES - 2)])
    assert sorted(answers) == sorted(["signed-in"] + ["invalid"] * (MAX_FAILURES - 2))
    # its success took its own attempt back and cleared the pair: the full allowance again
    again = burst(url, [f"guess {n}" for n in range(MAX_FAILURES)])
    assert again == ["invalid"] * MAX_FAILURES
    assert burst(url, [PASSWORD]) == ["locked"]
