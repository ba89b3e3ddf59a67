"""``next`` after sign-in goes only to a path on this app. Tabs and newlines (which a
browser drops from a URL), one level of percent-encoding and backslashes cannot make it leave."""

from __future__ import annotations

import pytest

from tests.security.conftest import sign_in

HOSTILE_NEXT = ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/%0A/x", "/%09/evil.example",
                "/%2F/evil.example", "/%5Cevil.example", "/\\evil.example", "\\\\evil.example", "//evil.example",
                "https://evil.example/", "javascript:alert(1)", "/\u200b/evil.example", " //evil.example",
                "/%2f%2fevil.example", "/\x0b/evil.example", "http:/evil.example"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_a_hostile_next_goes_home_after_a_real_sign_in(client, target):
    answer = sign_in(client, "alice", next_path=target)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    assert answer.headers["Location"] == "/"
    assert "sync_monitor_session=" in answer.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("target", ["/failed", "/history?crm_source=hubspot%2Cgenius&range=all", "/alerts#firing"])
def test_a_path_on_this_app_is_kept(client, target):
    answer = sign_in(client, "alice", next_path=target)
    assert answer.status_code == 303 and answer.headers["Location"] == target
