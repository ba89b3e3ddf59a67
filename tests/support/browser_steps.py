"""Steps the browser tests share: signing in through the page's own form, and waiting for a
condition on a page that re-renders."""

from __future__ import annotations

import time
from collections.abc import Callable

from selenium.common.exceptions import WebDriverException


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` until true; pages and grids re-render, so a vanished element is a retry."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except WebDriverException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"not in {timeout:.0f} s: {what}")
        time.sleep(0.2)


def sign_in(dash_duo, name: str, password: str, next_path: str) -> None:
    """Open the sign-in page for ``next_path``, sign in as ``name``, wait until the navbar names them."""
    dash_duo.driver.get(dash_duo.server_url + f"/sign-in?next={next_path}")
    dash_duo.wait_for_element("#sign-in-username", timeout=10).send_keys(name)
    dash_duo.find_element("#sign-in-password").send_keys(password)
    dash_duo.find_element("#sign-in-submit").click()
    dash_duo.wait_for_contains_text("#signed-in-user", name, timeout=10)
