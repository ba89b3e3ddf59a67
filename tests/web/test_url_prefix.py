"""URL_PREFIX, through Flask's test client: with the app under
``/ingestion/monitoring/`` every route of the route table answers under the prefix and nothing
answers outside it; sign-in and sign-out redirect under it and set the cookie's path to it; links
in JSON and in notifications carry it; a bad prefix stops the start naming the setting. Without
URL_PREFIX nothing changes: the rest of the suite runs at ``/``.
(tests/web/test_served_under_a_path_browser.py drives the same through nginx and a browser.)"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dash
import pytest
from flask import request, request_finished

from dashapp import runtime
from dashapp.alerts import notify
from dashapp.config import ConfigError, load_settings
from dashapp.health import probes
from dashapp.payloads.card_links import card_links
from dashapp.web import routes
from queries.clock import utc_now
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs
from tests.support.users_files import users_file

PREFIX = "/ingestion/monitoring/"
PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]
H = timedelta(hours=1)


@pytest.fixture
def sqlite_db(migrated_sqlite_db):
    """This module's SQLite file comes with the app's tables migrated (a copy of the run's)."""
    return migrated_sqlite_db


@pytest.fixture
def under_prefix(dash_app, sqlite_db, tmp_path):
    """The process's app rebuilt under PREFIX on a SQLite file holding two runs (one failed) and
    an operator; rebuilt back at ``/`` afterwards. Yields (test client, the failed run's id)."""
    from dashapp.auth import sign_in_limit
    from dashapp.startup import create_app

    saved = (runtime.current.settings, runtime.current.engine)
    empty_app_tables(sqlite_db)
    now = utc_now()
    runs = insert_runs(sqlite_db, [Run("hubspot", "contacts", "success", 3 * H, 2 * H, processed=10),
                                   Run("hubspot", "contacts", "failed", H, H / 2, error="HTTPError: 500")], now)
    users = users_file(tmp_path / "users.json", ("alice", "operator", PASSWORD))
    create_app(load_settings({"URL_PREFIX": PREFIX, "AUTH_USERS_FILE": str(users), "REFRESH_SECONDS": "2",
                             "CACHE_SECONDS": "0", "SQLITE_PATH": str(tmp_path / "x.sqlite3")}), sqlite_db)
    sign_in_limit.LOCAL.clear()
    try:
        yield dash_app.server.test_client(), runs[1].id
    finally:
        create_app(*saved)
        sign_in_limit.LOCAL.clear()


@pytest.fixture
def matched_rules(dash_app):
    """The Flask rule each request of the test reached (none: something in front answered)."""
    seen: list[str | None] = []

    def note(sender, response, **extra):
        seen.append(request.url_rule.rule if request.url_rule is not None else None)

    request_finished.connect(note, dash_app.server)
    yield seen
    request_finished.disconnect(note, dash_app.server)


def _filled(path: str, run_id: int) -> str:
    """A route's path with its variables filled in."""
    path = re.sub(r"<(int:)?(sync_id|alert_id)>", "1", path)
    path = re.sub(r"<(path:)?raw_id>", str(run_id), path)
    return path.replace("<action>", "acknowledge")


def test_every_route_of_the_table_answers_under_the_prefix_and_nothing_outside(under_prefix, matched_rules):
    client, run_id = under_prefix
    for route in routes.ROUTES:
        path = _filled(route.path, run_id)
        matched_rules.clear()
        answer = client.open(PREFIX.rstrip("/") + path, method=route.method)
        assert matched_rules == [route.path], (route.path, answer.status_code, answer.get_data(as_text=True)[:200])
        assert answer.status_code < 500, (route.path, answer.status_code)
        matched_rules.clear()
        outside = client.open(path, method=route.method)
        assert (outside.status_code, outside.get_data(as_text=True), matched_rules) == (404, "Not Found\n", []), path
    healthz = client.get(PREFIX + "healthz")
    assert healthz.status_code == 200 and healthz.get_json() == {"status": "ok"}
    stats = client.get(PREFIX + "api/stats").get_json()
    assert stats["overview"]["failed_today"] == 1  # the route really read the test's rows


def test_every_page_is_served_and_routed_under_the_prefix(under_prefix):
    client, run_id = under_prefix
    for page in routes.PAGES:
        path = page.path.replace("<run_id>", str(run_id))
        answer = client.get(PREFIX.rstrip("/") + path)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 200, path
        assert '"requests_pathname_prefix":"\\u002fingestion\\u002fmonitoring\\u002f"' in html, path
        scripts = re.findall(r'<script src="([^"]+)"', html)
        assert scripts and all(src.startswith(PREFIX) for src in scripts), path
        # what Dash's page router does with the browser's pathname: the prefix stripped, the page found
        found, _ = dash._pages._path_to_page(dash.get_app().strip_relative_path(PREFIX.rstrip("/") + path))
        assert found["module"] == page.module.__name__, path
        assert client.get(path).status_code == 404, path
    for source in re.findall(r'(?:src|href)="([^"]+)"', client.get(PREFIX).get_data(as_text=True)):
        assert source.startswith(PREFIX) and client.get(source).status_code == 200, source
    assert {p["relative_path"] for p in dash.page_registry.values() if p["in_navbar"]} == {
        PREFIX.rstrip("/") + page.path for page in routes.PAGES if page.in_navbar}


def test_the_prefix_without_its_slash_redirects_to_it(under_prefix):
    client, _ = under_prefix
    answer = client.get("/ingestion/monitoring?range=7d")
    assert answer.status_code == 308 and answer.headers["Location"] == PREFIX + "?range=7d"
    assert client.get("/ingestion/monitoringX/healthz").status_code == 404


def _sign_in(client, password: str, next_path: str):
    return client.post(PREFIX + "auth/sign-in", data={"username": "alice", "password": password, "next": next_path})


def test_sign_in_and_out_stay_under_the_prefix_and_the_cookie_path_is_it(under_prefix):
    client, _ = under_prefix
    wrong = _sign_in(client, "wrong", PREFIX + "failed")
    assert wrong.status_code == 303
    assert wrong.headers["Location"] == PREFIX + "sign-in?error=invalid&next=%2Fingestion%2Fmonitoring%2Ffailed"
    answer = _sign_in(client, PASSWORD, PREFIX + "failed?x=1")
    assert answer.status_code == 303 and answer.headers["Location"] == PREFIX + "failed?x=1"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("sync_monitor_session=") and "Path=/ingestion/monitoring/" in cookie
    assert '"action":"\\u002fingestion\\u002fmonitoring\\u002fauth\\u002fsign-out"' in _layout(client)
    out = client.post(PREFIX + "auth/sign-out")
    assert out.status_code == 303 and out.headers["Location"] == PREFIX
    assert "Path=/ingestion/monitoring/" in out.headers["Set-Cookie"] and "Expires=Thu, 01 Jan 1970" in \
        out.headers["Set-Cookie"]


def _layout(client) -> str:
    return client.get(PREFIX + "_dash-layout").get_data(as_text=True)


def _components(node) -> list:
    """Every Dash component in ``node``'s tree."""
    found = [node] if hasattr(node, "to_plotly_json") else []
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found += _components(child)
    return found


def test_the_sign_in_form_posts_and_returns_under_the_prefix(under_prefix, dash_app):
    from dashapp.web.pages import sign_in as sign_in_page

    for asked, kept in ((None, PREFIX + "failed"), (PREFIX + "history?range=7d", PREFIX + "history?range=7d"),
                        ("/history", PREFIX)):
        with dash_app.server.test_request_context(PREFIX + "sign-in"):
            form = sign_in_page.layout(next=asked)
        parts = {getattr(c, "id", None): c for c in _components(form)}
        assert parts["sign-in-next"].value == kept and parts["sign-in-form"].action == PREFIX + "auth/sign-in"


@pytest.mark.parametrize("target", ["/failed", "/", "/ingestion/monitoringX/", "/ingestion/monitoring/../admin",
                                    "/ingestion/monitoring/%2e%2e/admin", "//evil.example/ingestion/monitoring/",
                                    "https://evil.example/ingestion/monitoring/"])
def test_a_next_outside_the_prefix_goes_to_its_first_page(under_prefix, target):
    client, _ = under_prefix
    answer = _sign_in(client, PASSWORD, target)
    assert answer.status_code == 303 and answer.headers["Location"] == PREFIX


def test_links_in_pages_and_json_carry_the_prefix(under_prefix):
    client, run_id = under_prefix
    run = client.get(f"{PREFIX}api/runs/{run_id}").get_json()["run"]
    assert run["history_link"].startswith(PREFIX + "history?") and "crm_source=hubspot" in run["history_link"]
    assert run["error_class_link"].startswith(PREFIX + "history?")
    errors = client.get(PREFIX + "api/errors?days=1").get_json()
    assert errors["error_classes"] and all(c["history_link"].startswith(PREFIX + "history?")
                                           for c in errors["error_classes"])
    links = card_links(utc_now())
    assert all(link.startswith(PREFIX) for link in links.values()) and links["tightest-limit"] == PREFIX + "api-usage"
    layout = _layout(client)
    hrefs = re.findall(r'"href":"([^"]*)"', layout)
    assert hrefs and all(href.replace("\\u002f", "/").startswith(PREFIX) for href in hrefs), hrefs


def test_links_to_runs_at_impossible_times_carry_the_prefix(under_prefix, sqlite_db):
    insert_runs(sqlite_db, [Run("genius", "jobs", "success", timedelta(days=365 * 40), None)], utc_now())
    found = probes.impossible_times(sqlite_db)
    assert found["count"] == 1 and found["history_link"] == PREFIX + "history?times=impossible"
    assert found["runs"][0]["link"] == f"{PREFIX}runs/{found['runs'][0]['id']}"


ALERT = {"id": 3, "rule": "late", "subject": "hubspot", "severity": "critical", "state": "firing",
         "summary": "no sync for 2 h", "value": 2.0, "fired_at": None, "resolved_at": None, "resolved_by": None,
         "resolve_note": None}


@pytest.mark.parametrize(("public_url", "link"), [
    ("https://wh.example.com", "https://wh.example.com/ingestion/monitoring/alerts"),
    ("https://wh.example.com/", "https://wh.example.com/ingestion/monitoring/alerts"),
    ("https://wh.example.com/monitor", "https://wh.example.com/monitor/alerts"),  # a path: used as written
])
def test_notification_links_are_public_url_with_the_prefix(public_url, link):
    settings = load_settings({"URL_PREFIX": PREFIX, "PUBLIC_URL": public_url})
    assert notify.message(ALERT, "firing", settings)["link"] == link
    assert f"<{link}|Open the alerts page>" in notify.slack_message(ALERT, "firing", settings)["text"]
    assert notify.message(ALERT, "firing", load_settings({"PUBLIC_URL": public_url}))["link"] == \
        public_url.rstrip("/") + "/alerts"  # no URL_PREFIX: as before


@pytest.mark.parametrize(("raw", "normal"), [
    ("/", "/"), ("", "/"), ("ingestion/monitoring", PREFIX), ("/ingestion/monitoring", PREFIX), (PREFIX, PREFIX),
    ("/a-b_c.d~/", "/a-b_c.d~/")])
def test_the_prefix_is_normalised(raw, normal):
    assert load_settings({"URL_PREFIX": raw}).url_prefix == normal


BAD = {"/ingestion monitoring/": "holds a space", "/ingestion/../admin/": "holds a . or .. segment",
       "/ingestion?x=1": "holds a query (?)", "/ingestion#top": "holds a fragment (#)",
       "//ingestion/": "holds an empty segment (//)", "/ingestion//monitoring/": "holds an empty segment (//)",
       "/ingestion%2Fmonitoring/": "holds a %-escape", "/überwachung/": "holds a character other than letters",
       "/a<b>/": "holds a character other than letters", "https://wh.example.com/x/": "is a URL, not a path",
       "/a\\b/": "holds a backslash", "/a;b/": "holds a character other than letters"}


@pytest.mark.parametrize("raw", list(BAD))
def test_a_bad_prefix_is_named(raw):
    with pytest.raises(ConfigError) as caught:
        load_settings({"URL_PREFIX": raw})
    assert str(caught.value).startswith("URL_PREFIX=") and BAD[raw] in str(caught.value)


@pytest.mark.slow
def test_a_bad_prefix_stops_the_start_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "URL_PREFIX": "/ingestion/../x", "SQLITE_PATH": str(tmp_path / "x.sqlite3"),
           "SECRET_KEY": "x"}
    done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "sync-monitor: cannot start: URL_PREFIX='/ingestion/../x' holds a . or .. segment; use a plain path such "
        "as /ingestion/monitoring/"]
