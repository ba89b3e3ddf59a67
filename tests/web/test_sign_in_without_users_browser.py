"""Without users there is no sign-in form: the page says how to add one."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("browser_ready")


def test_no_users_no_sign_in_form(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(dash_duo.server_url + "/sign-in")
    dash_duo.wait_for_contains_text("#sign-in-message", "No users are configured", timeout=10)
    assert "python app.py users add" in dash_duo.find_element("#sign-in-message").text
    assert dash_duo.find_elements("#sign-in-form") == []
    assert dash_duo.get_logs() == []
