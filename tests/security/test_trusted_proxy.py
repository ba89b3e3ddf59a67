"""Headers from a proxy (and so the access log's address) count only when the request's
socket peer is a trusted proxy (FORWARDED_ALLOW_IPS). A client that is not the proxy cannot name
itself an operator with AUTH_PROXY_HEADER, cannot dodge the sign-in limit by rotating
X-Forwarded-For, and cannot put a name in gunicorn's access log."""

from __future__ import annotations

import base64
import http.cookiejar
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest

from dashapp.auth import sign_in_limit
from dashapp.config import ConfigError, load_settings
from dashapp.web import ids, trusted_proxy
from queries import failed_operations as queries
from queries.clock import utc_now
from tests.conftest import closed_port, empty_app_tables
from tests.security.conftest import PASSWORD
from tests.support.callbacks import callback_body
from tests.support.rows import Run, insert_runs
from tests.web.test_serving import ROOT, fetch

PROXY, OTHER_PROXY, CLIENT = "10.0.0.5", "10.0.0.6", "203.0.113.7"
ALICE_HEADER = {"X-Forwarded-User": "alice"}


@pytest.fixture
def failed_id(pg_engine) -> int:
    run, = insert_runs(pg_engine, [Run("proxytest", "contacts", "failed", timedelta(hours=1),
                                       timedelta(minutes=59), error="HTTPError: 502", configuration={"records": 1})],
                       utc_now())
    return int(run.id)


@pytest.fixture
def proxied(use_engine, pg_engine, app_env):
    """The app behind a proxy at PROXY that names users in X-Forwarded-User."""
    env = {**app_env, "AUTH_PROXY_HEADER": "X-Forwarded-User", "FORWARDED_ALLOW_IPS": PROXY}
    use_engine(pg_engine, **env)
    return env


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings():
    """The middleware's warnings, with no peer remembered from an earlier test."""
    trusted_proxy._warned.clear()
    records = Records()
    logger = logging.getLogger(trusted_proxy.__name__)
    logger.addHandler(records)
    yield records.messages
    logger.removeHandler(records)
    trusted_proxy._warned.clear()


def audit_table(client, dash_app, **request) -> str:
    """The /failed page's audit table, as its callback answers ``request``'s sender."""
    spec = next(v for k, v in dash_app.callback_map.items() if f"{ids.FAILED_GRID}.rowData" in k)
    inputs = [{**i, "value": {ids.FAILED_RANGE: "7d"}.get(i["id"])} for i in spec["inputs"]]
    _, (body,) = callback_body(dash_app, f"{ids.FAILED_GRID}.rowData", inputs,
                               [{**s, "value": None} for s in spec["state"]])
    answer = client.post("/_dash-update-component", json=body, **request)
    assert answer.status_code == 200
    return json.dumps(answer.json["response"][ids.FAILED_AUDIT]["children"])


def audit_actors(engine) -> list[str]:
    return [r["actor"] for r in queries.audit(engine, 100).to_dict("records")]


def test_the_user_header_from_a_client_that_is_not_the_proxy_is_ignored(client, dash_app, proxied, pg_engine,
                                                                          failed_id, warnings):
    stranger = {"environ_base": {"REMOTE_ADDR": CLIENT}, "headers": ALICE_HEADER}
    audit = client.get("/api/audit", **stranger)
    assert audit.status_code == 401 and "alice" not in audit.get_data(as_text=True)
    retry = client.post(f"/api/failed-operations/{failed_id}/retry", **stranger)
    assert retry.status_code == 401
    assert "alice" not in audit_actors(pg_engine)  # the refusal is recorded, not under alice's name
    assert client.get("/_dash-dependencies").status_code == 200
    table = audit_table(client, dash_app, **stranger)  # a page's callback: anonymous too
    assert "alice" not in table and "Operators see the audit log" in table
    assert "alice" not in client.get("/_dash-layout", **stranger).get_data(as_text=True)  # the navbar: nobody
    assert sum(f"X-Forwarded-User from {CLIENT}" in m for m in warnings) == 1  # said once, not per request


def test_the_user_header_from_the_proxy_names_the_user(client, dash_app, proxied, pg_engine, failed_id):
    from_proxy = {"environ_base": {"REMOTE_ADDR": PROXY}, "headers": ALICE_HEADER}
    audit = client.get("/api/audit", **from_proxy)
    assert audit.status_code == 200
    retry = client.post(f"/api/failed-operations/{failed_id}/retry", **from_proxy)
    assert retry.status_code == 202
    assert audit_actors(pg_engine) == ["alice"]
    assert client.get("/_dash-dependencies").status_code == 200
    assert "alice (operator)" in audit_table(client, dash_app, **from_proxy)
    assert "alice" in client.get("/_dash-layout", **from_proxy).get_data(as_text=True)


@pytest.mark.parametrize(("allowed", "peer", "trusted"), [
    ("10.0.0.0/8, 192.0.2.1", "10.200.3.4", True),
    ("10.0.0.0/8, 192.0.2.1", "192.0.2.1", True),
    ("10.0.0.0/8, 192.0.2.1", "192.0.2.2", False),
    ("10.0.0.5", "::ffff:10.0.0.5", True),  # a dual-stack socket's form of the same address
    ("::1", "::1", True),
    ("127.0.0.1", "::1", False),
    ("*", CLIENT, True),
])
def test_forwarded_allow_ips_takes_addresses_networks_and_any(client, use_engine, pg_engine, app_env,
                                                              allowed, peer, trusted):
    use_engine(pg_engine, **app_env, AUTH_PROXY_HEADER="X-Forwarded-User", FORWARDED_ALLOW_IPS=allowed)
    audit = client.get("/api/audit", environ_base={"REMOTE_ADDR": peer}, headers=ALICE_HEADER)
    assert audit.status_code == (200 if trusted else 401)


@pytest.mark.parametrize("value", ["10.0.0.1/8", "nginx", "10.0.0.0/8,proxy.internal"])
def test_a_bad_forwarded_allow_ips_is_a_clear_error(value):
    with pytest.raises(ConfigError, match="FORWARDED_ALLOW_IPS=.*is not an IP address or network"):
        load_settings({"FORWARDED_ALLOW_IPS": value})


def sign_in_from(client, peer: str, forwarded_for: str, password: str):
    return client.post("/auth/sign-in", data={"username": "alice", "password": password, "next": "/failed"},
                       environ_base={"REMOTE_ADDR": peer}, headers={"X-Forwarded-For": forwarded_for})


def test_a_client_rotating_x_forwarded_for_is_still_locked_out(client, use_engine, pg_engine, app_env, warnings):
    use_engine(pg_engine, **app_env, BEHIND_PROXY="true", FORWARDED_ALLOW_IPS=PROXY, SIGN_IN_MAX_FAILURES="3")
    for n in range(3):
        assert "error=invalid" in sign_in_from(client, CLIENT, f"198.51.100.{n}", "guess").headers["Location"]
    locked = sign_in_from(client, CLIENT, "198.51.100.99", PASSWORD)  # a new address again: still the socket's
    assert "error=locked" in locked.headers["Location"]
    settings = load_settings({**app_env, "SIGN_IN_MAX_FAILURES": "3"})
    assert sign_in_limit.reserve(settings, sign_in_limit.keys(CLIENT, "alice")).refused
    assert not sign_in_limit.reserve(settings, sign_in_limit.keys("198.51.100.0", "alice")).refused
    assert sum(f"X-Forwarded-For from {CLIENT}" in m for m in warnings) == 1


def test_behind_the_trusted_proxy_the_forwarded_address_counts(client, use_engine, pg_engine, app_env):
    use_engine(pg_engine, **app_env, BEHIND_PROXY="true", FORWARDED_ALLOW_IPS=PROXY, SIGN_IN_MAX_FAILURES="3")
    for _ in range(3):
        assert "error=invalid" in sign_in_from(client, PROXY, "198.51.100.1", "guess").headers["Location"]
    assert "error=locked" in sign_in_from(client, PROXY, "198.51.100.1", PASSWORD).headers["Location"]
    other = sign_in_from(client, PROXY, "198.51.100.2", PASSWORD)  # another client behind the same proxy
    assert other.status_code == 303 and other.headers["Location"] == "/failed"
    settings = load_settings({**app_env, "SIGN_IN_MAX_FAILURES": "3"})
    assert sign_in_limit.reserve(settings, sign_in_limit.keys("198.51.100.1", "alice")).refused
    assert not sign_in_limit.reserve(settings, sign_in_limit.keys(PROXY, "alice")).refused


@pytest.mark.parametrize(("forwarded_for", "client_address"), [
    ("198.51.100.1", "198.51.100.1"),  # one proxy: its entry
    ("192.0.2.66, 198.51.100.1", "198.51.100.1"),  # what the client sent itself is left of the proxy's entry
    (f"192.0.2.66, 198.51.100.1, {OTHER_PROXY}", "198.51.100.1"),  # two proxies: the right-most untrusted
    (f"{OTHER_PROXY}, {PROXY}", OTHER_PROXY),  # only proxies: the left-most
    ("198.51.100.1:4711", "198.51.100.1"),  # with a port
    ("[2001:db8::1]:443", "2001:db8::1"),
    ("192.0.2.66, not-an-address", PROXY),  # garbage ends the walk at the last trusted hop
    (f"198.51.100.1, nonsense, {OTHER_PROXY}", OTHER_PROXY),
])
def test_the_client_is_the_right_most_address_that_is_not_a_proxy(forwarded_for, client_address, warnings):
    proxies = load_settings({"FORWARDED_ALLOW_IPS": f"{PROXY},{OTHER_PROXY}"}).trusted_proxies
    assert trusted_proxy.client_address(forwarded_for, PROXY, proxies) == client_address


def test_scheme_and_host_only_from_the_proxy():
    from flask import Flask, request

    from dashapp.web import serving

    seen = {}
    app = Flask("scheme-and-host")
    serving.configure(app, load_settings({"BEHIND_PROXY": "true", "FORWARDED_ALLOW_IPS": PROXY}))
    app.add_url_rule("/where", "where", lambda: seen.setdefault(request.remote_addr, request.host_url) or "")
    headers = {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "monitor.example"}
    for peer in (PROXY, CLIENT):
        app.test_client().get("/where", environ_base={"REMOTE_ADDR": peer}, headers=headers)
    assert seen == {"198.51.100.1": "https://monitor.example/", CLIENT: "http://localhost/"}


@pytest.mark.slow
def test_gunicorn_logs_the_identified_user_never_a_sent_header(pg_engine, postgres_url, users_file, tmp_path):
    """Real gunicorn on loopback with FORWARDED_ALLOW_IPS naming another address: loopback is not
    the proxy, so its X-Forwarded-User is ignored, and the access log names only the users the app
    signed in (HTTP Basic, a session)."""
    empty_app_tables(pg_engine)
    port = closed_port()
    env = {**os.environ, "DATABASE_URL": postgres_url, "PORT": str(port), "HOST": "127.0.0.1",
           "SQLITE_PATH": str(tmp_path / "x.db"), "SECRET_KEY": "trusted-proxy-test", "WEB_CONCURRENCY": "1",
           "WEB_THREADS": "2", "AUTH_USERS_FILE": str(users_file), "AUTH_PROXY_HEADER": "X-Forwarded-User",
           "FORWARDED_ALLOW_IPS": "10.9.9.9", "BEHIND_PROXY": "true", "ROLLUP_REFRESH_SECONDS": "0"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    statuses = {}
    try:
        assert fetch(f"{base}/healthz", deadline=time.monotonic() + 60).status == 200
        for n in range(2):  # the header from a peer that is not the proxy: anonymous, logged once
            try:
                fetch(f"{base}/api/audit?spoofed={n}", {**ALICE_HEADER, "X-Forwarded-For": "198.51.100.1"})
            except urllib.error.HTTPError as exc:
                statuses[f"spoofed={n}"] = exc.code
        basic = urllib.request.Request(f"{base}/api/audit?basic=1", headers={"X-Forwarded-User": "mallory"})
        basic.add_header("Authorization", "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode())
        statuses["basic=1"] = urllib.request.urlopen(basic, timeout=10).status
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        form = urllib.parse.urlencode({"username": "bob", "password": PASSWORD, "next": "/failed"}).encode()
        browser.open(f"{base}/auth/sign-in", data=form, timeout=10)
        try:
            browser.open(urllib.request.Request(f"{base}/api/audit?session=1", headers={"X-Forwarded-User": "mallory"}),
                         timeout=10)
        except urllib.error.HTTPError as exc:
            statuses["session=1"] = exc.code
            assert "bob is a viewer" in json.loads(exc.read())["error"]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert statuses == {"spoofed=0": 401, "spoofed=1": 401, "basic=1": 200, "session=1": 403}, output[-3000:]
    lines = {query: next(line for line in output.splitlines() if f"/api/audit?{query} " in line)
             for query in statuses}
    assert lines["spoofed=0"].startswith('127.0.0.1 "-" ')  # the socket's address, no user
    assert lines["spoofed=1"].startswith('127.0.0.1 "-" ')
    assert lines["basic=1"].startswith('127.0.0.1 "alice" ')
    assert lines["session=1"].startswith('127.0.0.1 "bob" ')
    assert "mallory" not in output
    assert output.count("ignored X-Forwarded-User, X-Forwarded-For from 127.0.0.1") == 1, output[-3000:]
