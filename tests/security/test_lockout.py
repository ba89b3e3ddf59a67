"""Failures count per address and name together, with a delay that grows, so an attacker
elsewhere cannot lock a real user out; one address spraying many names is still limited."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from dashapp import runtime
from dashapp.auth import sign_in_limit
from tests.security.conftest import PASSWORD

ATTACKER, ALICE, SPRAYER = "10.0.0.66", "10.0.0.1", "10.0.0.77"


def attempt(client, address: str, name: str, password: str):
    return client.post("/auth/sign-in", data={"username": name, "password": password, "next": "/failed"},
                       environ_base={"REMOTE_ADDR": address})


@pytest.mark.parametrize("store", ["redis", "tables"])
def test_an_attacker_elsewhere_cannot_lock_a_user_out(client, use_engine, pg_engine, app_env, redis_url, store):
    use_engine(pg_engine, **app_env, SIGN_IN_MAX_FAILURES="3", **({"REDIS_URL": redis_url} if store == "redis" else {}))
    for _ in range(3):
        assert "error=invalid" in attempt(client, ATTACKER, "alice", "guess").headers["Location"]
    for _ in range(5):  # the attacker now waits, even with the right password
        assert "error=locked" in attempt(client, ATTACKER, "alice", PASSWORD).headers["Location"]
    real = attempt(client, ALICE, "alice", PASSWORD)
    assert real.status_code == 303 and real.headers["Location"] == "/failed"
    assert "sync_monitor_session=" in real.headers["Set-Cookie"]


@pytest.mark.parametrize("store", ["redis", "tables", "process"])
def test_the_delay_grows_with_each_failure(use_engine, pg_engine, app_env, redis_url, store):
    if store == "process":  # no app tables: counted in this process
        with pg_engine.begin() as conn:
            conn.execute(text("DROP SCHEMA sync_monitor CASCADE"))
    use_engine(pg_engine, **app_env, SIGN_IN_MAX_FAILURES="3", SIGN_IN_WINDOW_SECONDS="900",
               **({"REDIS_URL": redis_url} if store == "redis" else {}))
    settings = runtime.settings()
    keys = sign_in_limit.keys(ATTACKER, "alice")
    now, checks, waits = time.time(), 0, []
    while len(waits) < 4:  # each attempt as soon as it may be made
        attempt = sign_in_limit.reserve(settings, keys, now=now)
        assert attempt.store == {"redis": "redis", "tables": "table", "process": "process"}[store]
        if attempt.refused:
            waits.append(attempt.wait)
            now += attempt.wait + 0.01
        else:
            checks += 1
    assert checks == 3 + 3  # 3 at once, then one after each wait
    assert [round(w / 30) for w in waits] == [1, 2, 4, 8]  # 30 s, 60 s, 120 s, 240 s
    assert not sign_in_limit.reserve(settings, sign_in_limit.keys(ALICE, "alice"), now=now).refused


@pytest.mark.slow
@pytest.mark.parametrize("store", ["redis", "tables"])
def test_one_address_spraying_names_is_still_limited(client, use_engine, pg_engine, app_env, redis_url, store):
    use_engine(pg_engine, **app_env, SIGN_IN_MAX_FAILURES="3", **({"REDIS_URL": redis_url} if store == "redis" else {}))
    for n in range(sign_in_limit.ADDRESS_FACTOR * 3):
        assert "error=invalid" in attempt(client, SPRAYER, f"name{n}", "guess").headers["Location"]
    assert "error=locked" in attempt(client, SPRAYER, "alice", PASSWORD).headers["Location"]
    assert attempt(client, ALICE, "alice", PASSWORD).headers["Location"] == "/failed"


@pytest.mark.slow
def test_an_ipv6_client_rotating_within_its_64_is_locked_out(client, app_env, use_engine, pg_engine):
    use_engine(pg_engine, **app_env, SIGN_IN_MAX_FAILURES="3")
    for n in range(3):
        answer = client.post("/auth/sign-in", data={"username": "alice", "password": "guess", "next": "/"},
                             environ_base={"REMOTE_ADDR": f"2001:db8:9:1::{n + 1:x}"})
        assert "error=invalid" in answer.headers["Location"]
    rotated = client.post("/auth/sign-in", data={"username": "alice", "password": PASSWORD, "next": "/"},
                          environ_base={"REMOTE_ADDR": "2001:db8:9:1:abcd::99"})
    assert "error=locked" in rotated.headers["Location"]
    elsewhere = client.post("/auth/sign-in", data={"username": "alice", "password": PASSWORD, "next": "/"},
                            environ_base={"REMOTE_ADDR": "2001:db8:9:2::1"})  # another /64
    assert elsewhere.status_code == 303 and elsewhere.headers["Location"] == "/"
    mapped = client.post("/auth/sign-in", data={"username": "alice", "password": "guess", "next": "/"},
                         environ_base={"REMOTE_ADDR": "::ffff:203.0.113.9"})
    assert "error=invalid" in mapped.headers["Location"]
    assert sign_in_limit.keys("::ffff:203.0.113.9", "Alice") == sign_in_limit.keys("203.0.113.9", "alice")
