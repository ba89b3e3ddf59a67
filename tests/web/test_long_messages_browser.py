"""A 1 MB message in headless Chromium: the run page and the errors page show its first
characters with "… 1,048,… characters"; "show all" fetches the whole message, whose tail then
shows, as text (the markup in it stays text)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashapp.web import ids
from queries import messages
from queries.clock import utc_now
from tests.support.browser_steps import wait_for, wait_for_refreshes
from tests.support.rows import Run, insert_runs

pytestmark = pytest.mark.usefixtures("browser_ready")
EMOJI = "\U0001F600"
TAIL = "<b>the tail</b> of the message " + EMOJI


def _message() -> str:
    """About 1 MiB characters with 4-byte ones where the cuts fall (the page's bound, the chunks')."""
    text = list("Timeout " + "é-x " * (2**18) + TAIL)
    for at in (messages.MESSAGE_BOUND - 1, messages.MESSAGE_BOUND, messages.CHUNK - 1, messages.CHUNK):
        text[at] = EMOJI
    return "".join(text)


def _show_all(dash_duo, box: str, message: str, refreshing: str | None) -> None:
    """Show the whole message in ``box``; when the page refreshes (``refreshing``: its interval),
    it stays whole through the next refresh."""
    pre = dash_duo.find_element(f"{box} pre")
    assert pre.text.startswith("Timeout ") and TAIL not in pre.text
    assert f"… {len(message):,} characters" in dash_duo.find_element(f"{box} .long-message-note").text
    # found and clicked in one step: the errors page draws its list again every 2 s here
    dash_duo.driver.execute_script(f"var b = document.querySelector('{box} .show-all-message');"
                                   "b.scrollIntoView({block: 'center', behavior: 'instant'}); b.click();")
    tail = f"var t = document.querySelector('{box} pre').textContent; return t.slice(t.length - 200);"
    wait_for(lambda: dash_duo.driver.execute_script(tail).endswith(TAIL), timeout=30)
    shown = dash_duo.driver.execute_script(f"return document.querySelector('{box} pre').textContent")
    assert shown == message  # the whole message, as text: its <b> is not markup
    assert dash_duo.find_elements(f"{box} pre b") == []
    assert f"all {len(message):,} characters" in dash_duo.find_element(f"{box} .long-message-note").text
    if refreshing:
        wait_for_refreshes(dash_duo, refreshing)  # a refresh (every 2 s here) draws the list again
    assert dash_duo.driver.execute_script(tail).endswith(TAIL)


def test_show_all_on_the_run_page_and_the_errors_page(dash_duo, dash_app, use_engine, pg_engine):
    use_engine(pg_engine)
    message = _message()
    (run,) = insert_runs(pg_engine, [Run("hubspot", "contacts", "failed", timedelta(minutes=30),
                                         timedelta(minutes=20), error=message)], utc_now())
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_page(dash_duo.server_url + f"/runs/{run.id}", timeout=15)
    dash_duo.wait_for_element("#run-error", timeout=15)
    dash_duo.wait_for_contains_text("#run-what-changed", "", timeout=15)
    # the first MESSAGE_BOUND characters, no emoji split at the cut
    wait_for(lambda: dash_duo.find_element("#run-error").get_attribute("textContent") ==
             message[:messages.MESSAGE_BOUND], timeout=15)
    _show_all(dash_duo, "#run-body .long-message", message, None)  # a finished run's page does not refresh

    dash_duo.wait_for_page(dash_duo.server_url + "/errors", timeout=15)
    dash_duo.wait_for_element("#recent-failures .long-message", timeout=15)
    _show_all(dash_duo, "#recent-failures .long-message", message, ids.ERRORS_INTERVAL)
