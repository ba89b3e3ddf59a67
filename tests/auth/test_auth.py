"""Sign-in, roles and the audit, through the app's real routes and callbacks: the users file, the
session cookie, the sign-in limit (in Redis and in process), 401/403 from the API and from the
page's callback, the proxy header, and the audit rows each action leaves."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

import pytest
import redis

from dashapp.auth import sign_in_limit
from dashapp.auth import users as auth
from dashapp.auth.users import UsersFileError, add_user, parse_users
from dashapp.config import load_settings
from queries import failed_operations as queries
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.callbacks import callback_body
from tests.support.rows import Run, insert_runs
from tests.support.users_files import users_file as users_file_of

PASSWORD = "correct horse battery"


@pytest.fixture
def users_file(tmp_path):
    return users_file_of(tmp_path / "users.json", ("alice", "operator", PASSWORD), ("bob", "viewer", PASSWORD),
                         ("proxied", "operator", None))


@pytest.fixture(autouse=True)
def no_earlier_failures():
    """Sign-in failures counted in this process by an earlier test must not lock this one out."""
    sign_in_limit.LOCAL.clear()


@pytest.fixture
def queue() -> str:
    return f"sm_auth_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def app_env(use_engine, pg_engine, users_file, redis_url, queue):
    """The app on the test database, with users, a Redis broker and an empty queue (no worker:
    a retry stays queued)."""
    empty_app_tables(pg_engine)
    env = {"AUTH_USERS_FILE": str(users_file), "CELERY_BROKER_URL": redis_url, "CELERY_QUEUES": queue,
           "SIGN_IN_MAX_FAILURES": "3"}
    use_engine(pg_engine, **env)
    return env


@pytest.fixture
def failed_ids(pg_engine):
    runs = insert_runs(pg_engine, [
        Run("retrytest", "contacts", "failed", timedelta(hours=h), timedelta(hours=h) - timedelta(minutes=1),
            error="HTTPError: 502", configuration={"records": 1}) for h in (1, 2, 3)
    ], utc_now())
    return [int(r.id) for r in runs]


def audit_rows(engine) -> list[dict]:
    """Oldest first; a refusals' summary that a minute's end split in two is one row again."""
    rows: list[dict] = []
    for row in queries.audit(engine, 100).to_dict("records")[::-1]:
        same = ("actor", "action", "result", "detail", "source")
        if rows and row["result"] == "denied" and all(rows[-1][k] == row[k] for k in same):
            rows[-1] = {**row, "repeats": rows[-1]["repeats"] + row["repeats"]}
        else:
            rows.append(row)
    return rows


def sign_in(client, name: str, password: str, next_path: str = "/failed"):
    return client.post("/auth/sign-in", data={"username": name, "password": password, "next": next_path})


def test_the_users_file(users_file):
    settings_like = type("S", (), {"auth_users_file": users_file})()
    assert auth.check_password(settings_like, "alice", PASSWORD) == auth.User("alice", "operator", "session")
    assert auth.check_password(settings_like, "alice", "wrong") is None
    assert auth.check_password(settings_like, "nobody", PASSWORD) is None
    assert auth.check_password(settings_like, "proxied", "") is None  # proxy-only: no password works
    stored = json.loads(users_file.read_text())
    assert stored["users"]["alice"]["password_hash"].startswith("scrypt:")
    assert PASSWORD not in users_file.read_text()
    assert users_file.stat().st_mode & 0o777 == 0o600
    with pytest.raises(UsersFileError, match="not JSON"):
        parse_users("{", "f.json")
    with pytest.raises(UsersFileError, match="'eve' needs a role"):
        parse_users('{"users": {"eve": {"role": "admin"}}}', "f.json")
    broken = users_file.with_name("broken.json")
    broken.write_text("[]")
    assert auth.USERS.users(broken) == {}  # unusable: nobody signs in, nobody acts


def test_a_right_password_is_remembered_a_while_and_nothing_else_is(users_file, monkeypatch):
    """HTTP Basic sends the password with every request: a right one checked lately is answered
    without another scrypt check; a wrong one, an unknown name, a changed password or a removed user
    always gets the full check, and the cache holds no password."""
    settings_like = type("S", (), {"auth_users_file": users_file})()
    checks = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash",
                        lambda stored, password: checks.append(1) or real(stored, password))
    monkeypatch.setattr(auth, "VERIFIED", auth.VerifiedPasswords(seconds=60, most=2))
    alice = auth.User("alice", "operator", "session")
    assert [auth.check_password(settings_like, "alice", PASSWORD) for _ in range(3)] == [alice] * 3
    assert len(checks) == 1  # the first only
    assert auth.check_password(settings_like, "alice", PASSWORD + " ") is None and len(checks) == 2
    assert auth.check_password(settings_like, "nobody", PASSWORD) is None and len(checks) == 3
    assert PASSWORD.encode() not in repr(auth.VERIFIED._entries).encode()
    add_user(users_file, "alice", "operator", "a new password")  # a new hash: the old password is gone
    auth.USERS.users(users_file)  # reread (the file's key changed)
    assert auth.check_password(settings_like, "alice", PASSWORD) is None and len(checks) == 4
    assert auth.check_password(settings_like, "alice", "a new password") == alice and len(checks) == 5
    users = json.loads(users_file.read_text())
    del users["users"]["alice"]
    users_file.write_text(json.dumps(users))
    assert auth.check_password(settings_like, "alice", "a new password") is None  # removed: not remembered
    auth.check_password(settings_like, "bob", PASSWORD)
    auth.check_password(settings_like, "bob", PASSWORD)
    assert len(auth.VERIFIED._entries) <= 2  # bounded
    expired = auth.VerifiedPasswords(seconds=0)
    expired.add("bob", "hash", PASSWORD)
    assert not expired.holds("bob", "hash", PASSWORD)


def test_sign_in_sets_an_http_only_same_site_cookie_and_never_logs_the_password(
        dash_app, app_env, pg_engine, caplog):
    client = dash_app.server.test_client()
    with caplog.at_level(logging.DEBUG):
        answer = sign_in(client, "alice", PASSWORD)
    assert answer.status_code == 303 and answer.headers["Location"] == "/failed"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("sync_monitor_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert PASSWORD not in caplog.text and "alice signed in" in caplog.text
    rows = audit_rows(pg_engine)
    assert [(r["actor"], r["action"], r["result"], r["source"]) for r in rows] == [
        ("alice", "sign_in", "ok", "sign-in")]
    page = client.get("/api/failed-operations")
    assert page.status_code == 200
    out = client.post("/auth/sign-out")
    assert out.status_code == 303 and "sync_monitor_session=;" in out.headers["Set-Cookie"]


def test_a_wrong_password_goes_back_to_the_form(dash_app, app_env, pg_engine):
    client = dash_app.server.test_client()
    answer = sign_in(client, "alice", "not it", "//evil.example/x")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/sign-in?error=invalid")
    assert "alice" not in answer.headers["Location"]  # what was typed as the name stays out of the URL
    typed = sign_in(client, "hunter2-typed-as-a-name", "x", "/")
    assert "hunter2" not in typed.headers["Location"] and "username" not in typed.headers["Location"]
    assert "next=%2F&" in answer.headers["Location"] + "&"  # never an open redirect
    assert "Set-Cookie" not in answer.headers
    assert [(r["actor"], r["result"], r["detail"]) for r in audit_rows(pg_engine)] == [
        ("alice", "denied", "failed"), ("(not a user)", "denied", "failed")]


@pytest.mark.parametrize("store", ["redis", "process"])
def test_sign_in_attempts_are_limited(dash_app, use_engine, pg_engine, users_file, redis_url, store):
    empty_app_tables(pg_engine)
    env = {"AUTH_USERS_FILE": str(users_file), "SIGN_IN_MAX_FAILURES": "3"}
    if store == "redis":
        env["REDIS_URL"] = redis_url
    use_engine(pg_engine, **env)
    name = f"alice-{uuid.uuid4().hex[:6]}"
    add_user(users_file, name, "operator", PASSWORD)
    client = dash_app.server.test_client()
    for _ in range(3):
        assert "error=invalid" in sign_in(client, name, "guess").headers["Location"]
    locked = sign_in(client, name, PASSWORD)  # even the right password waits now
    assert "error=locked" in locked.headers["Location"] and "Set-Cookie" not in locked.headers
    if store == "redis":
        keys = redis.Redis.from_url(redis_url).keys("sync-monitor:sign-in-failures:*")
        assert sorted(k.decode() for k in keys) == sorted(  # per address, and per address and name together
            f"sync-monitor:sign-in-failures:{k}" for k in ("address:127.0.0.1", f"pair:127.0.0.1|{name}"))
    # refusals are counted summaries: one row per result and detail (and minute), with its repeats
    assert [(r["result"], r["detail"], r["repeats"]) for r in audit_rows(pg_engine)] == [
        ("denied", "failed", 3), ("denied", "refused: too many attempts", 1)]
    # Basic credentials on the API count against the same limit
    answer = client.post("/api/failed-operations/1/retry", auth=(name, PASSWORD))
    assert answer.status_code == 429


def test_the_api_refuses_anonymous_viewers_and_a_read_only_app(dash_app, app_env, use_engine, pg_engine,
                                                                failed_ids, redis_url, queue):
    client = dash_app.server.test_client()
    first = failed_ids[0]
    anonymous = client.post(f"/api/failed-operations/{first}/retry")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert anonymous.json == {"error": "sign in as an operator to retry"}
    viewer = client.post(f"/api/failed-operations/{first}/retry", auth=("bob", PASSWORD))
    assert viewer.status_code == 403 and "bob is a viewer" in viewer.json["error"]
    sign_in(client, "bob", PASSWORD)
    assert client.post(f"/api/failed-operations/{first}/retry").status_code == 403
    assert client.post("/api/failed-operations/retry", json={"ids": failed_ids}).status_code == 403
    assert redis.Redis.from_url(redis_url).llen(f"{queue}_retries") == 0
    assert {o["state"] for o in client.get("/api/failed-operations").json["operations"]} == {"failed"}

    operator = client.post(f"/api/failed-operations/{first}/retry", auth=("alice", PASSWORD))
    assert operator.status_code == 202 and operator.json["queued"] == [first]
    again = client.post(f"/api/failed-operations/{first}/retry", auth=("alice", PASSWORD))
    assert again.status_code == 409 and again.json["error"] == f"operation {first}: already queued"
    assert again.json["operation"]["state"] == "queued" and again.json["operation"]["attempts"] == 1
    missing = client.post("/api/failed-operations/987654/retry", auth=("alice", PASSWORD))
    assert missing.status_code == 404
    bulk = client.post("/api/failed-operations/retry", auth=("alice", PASSWORD),
                       json={"filter": {"crm_source": ["retrytest"], "range": "24h"}})
    assert bulk.status_code == 202 and sorted(bulk.json["queued"]) == sorted(failed_ids[1:])
    assert bulk.json["skipped"] == [] and bulk.json["result"] == "ok"  # the queued one is not "failed"
    assert redis.Redis.from_url(redis_url).llen(f"{queue}_retries") == 3
    for body, name in (({"ids": ["x"]}, "ids"), ({}, "body"), ({"filter": {"state": "nope"}}, "state")):
        answer = client.post("/api/failed-operations/retry", auth=("alice", PASSWORD), json=body)
        assert answer.status_code == 400 and answer.json["error"].startswith(name), answer.json

    rows = audit_rows(pg_engine)
    retries_ = [(r["actor"], r["result"], r["operations"], r["source"], r["repeats"]) for r in rows
                if r["action"] == "retry"]
    # bob's three refusals are one counted summary, holding the latest: a refused bulk request is
    # answered before its body is read (0 operations)
    assert retries_ == [("anonymous", "denied", 1, "api", 1), ("bob", "denied", 0, "api", 3),
                        ("alice", "ok", 1, "api", 1), ("alice", "none", 0, "api", 1), ("alice", "none", 0, "api", 1),
                        ("alice", "ok", 2, "api", 1)]
    assert rows[-1]["target"].startswith("filter crm_source=retrytest; since ")

    use_engine(pg_engine, CELERY_BROKER_URL=redis_url)  # no users at all: read-only for everyone
    read_only = client.post(f"/api/failed-operations/{failed_ids[1]}/retry", auth=("alice", PASSWORD))
    assert read_only.status_code == 403 and read_only.json["error"].startswith("read-only")


def test_posts_from_another_site_are_refused(dash_app, app_env, failed_ids):
    client = dash_app.server.test_client()
    sign_in(client, "alice", PASSWORD)
    evil = {"Origin": "https://evil.example"}
    assert client.post(f"/api/failed-operations/{failed_ids[0]}/retry", headers=evil).status_code == 403
    assert client.post("/auth/sign-in", data={"username": "alice", "password": PASSWORD},
                       headers=evil).status_code == 403
    same = client.post(f"/api/failed-operations/{failed_ids[0]}/retry", headers={"Origin": "http://localhost"})
    assert same.status_code == 202


def test_the_proxy_header_names_the_user(dash_app, use_engine, pg_engine, users_file, failed_ids, redis_url, queue):
    empty_app_tables(pg_engine)
    use_engine(pg_engine, AUTH_USERS_FILE=str(users_file), AUTH_PROXY_HEADER="X-Forwarded-User",
               CELERY_BROKER_URL=redis_url, CELERY_QUEUES=queue)
    client = dash_app.server.test_client()
    stranger = client.post(f"/api/failed-operations/{failed_ids[0]}/retry", headers={"X-Forwarded-User": "mallory"})
    assert stranger.status_code == 403 and "mallory is a viewer" in stranger.json["error"]
    listed = client.post(f"/api/failed-operations/{failed_ids[0]}/retry", headers={"X-Forwarded-User": "proxied"})
    assert listed.status_code == 202
    assert [(r["actor"], r["role"], r["result"]) for r in audit_rows(pg_engine)] == [
        ("mallory", "viewer", "denied"), ("proxied", "operator", "ok")]


def test_a_user_taken_out_of_the_file_is_signed_out(dash_app, app_env, users_file, failed_ids):
    client = dash_app.server.test_client()
    sign_in(client, "alice", PASSWORD)
    users = json.loads(users_file.read_text())
    del users["users"]["alice"]
    users_file.write_text(json.dumps(users) + "\n" * 3)  # a different size: reread at once
    assert client.post(f"/api/failed-operations/{failed_ids[0]}/retry").status_code == 401


def confirm(client, dash_app, pending: dict) -> str:
    """Press the confirmation dialog's Retry button through Dash's own callback route; returns
    the message the page shows."""
    _, (body,) = callback_body(dash_app, "retry-result.children",
                           [{"id": "retry-confirm-button", "property": "n_clicks", "value": 1}],
                           [{"id": "retry-pending", "property": "data", "value": pending}])
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.data[:500]
    return answer.json["response"]["retry-result"]["children"]


def test_the_page_callback_checks_the_role_on_the_server(dash_app, app_env, pg_engine, failed_ids, redis_url, queue):
    client = dash_app.server.test_client()
    target = failed_ids[0]
    pending = {"ids": [target], "target": f"operation {target}"}
    assert confirm(client, dash_app, pending) == "Not allowed (401): sign in as an operator to retry"
    sign_in(client, "bob", PASSWORD)
    assert confirm(client, dash_app, pending) == "Not allowed (403): bob is a viewer; only operators may retry"
    assert redis.Redis.from_url(redis_url).llen(f"{queue}_retries") == 0
    assert queries.operations(pg_engine, queries.OperationFilter(sync_ids=(target,)), 1).iloc[0]["attempts"] == 0

    client.post("/auth/sign-out")
    sign_in(client, "alice", PASSWORD)
    assert confirm(client, dash_app, pending) == "1 of 1 queued"
    assert confirm(client, dash_app, {"filter": {"range": "7d", "crm_source": ["retrytest"], "state": ["failed"]},
                                      "target": "filter"}) == "2 of 2 queued"
    assert redis.Redis.from_url(redis_url).llen(f"{queue}_retries") == 3
    page_rows = [(r["actor"], r["result"], r["operations"]) for r in audit_rows(pg_engine) if r["source"] == "page"]
    assert page_rows == [("anonymous", "denied", 1), ("bob", "denied", 1), ("alice", "ok", 1), ("alice", "ok", 2)]


def test_the_read_only_note_says_read_only_once(tmp_path):
    settings = load_settings({"AUTH_USERS_FILE": str(tmp_path / "absent.json")})
    refused = auth.refusal(settings, None, "retry")
    assert refused.read_only_note.startswith("Read-only: ") and refused.read_only_note.count("ead-only") == 1
