"""Steps the browser tests share: signing in through the page's own form, waiting for a
condition on a page that re-renders, and waiting for a page's own refreshes (no fixed sleeps)."""

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


# Counts the page's server callbacks by what set them off (each "<id>.<property>" of a request's
# changedPropIds): sent, in window.__callbackCounts["sent <id>.<property>"], and answered, in
# window.__callbackCounts["<id>.<property>"] once the answer's body has arrived and the renderer has
# had a moment to draw it. Installed once per page load; returns the counts.
COUNT_CALLBACKS = r"""
if (!window.__callbackCounts) {
  var counts = window.__callbackCounts = {};
  var add = function (key) { counts[key] = (counts[key] || 0) + 1; };
  var original = window.fetch;
  window.fetch = function (url, options) {
    var fired = [];
    try {
      if (String(url).indexOf('_dash-update-component') >= 0 && options && typeof options.body === 'string') {
        fired = JSON.parse(options.body).changedPropIds || [];
      }
    } catch (e) { fired = []; }
    var answer = original.apply(this, arguments);
    fired.forEach(function (p) { add('sent ' + p); });
    if (fired.length) {
      answer.then(function (response) { return response.clone().text(); }).then(function () {
        setTimeout(function () { fired.forEach(add); }, 100);
      }, function () {});
    }
    return answer;
  };
}
return window.__callbackCounts;
"""


def callbacks_seen(dash_duo, prop_id: str, sent: bool = False) -> int:
    """How many answers the page has drawn (``sent``: how many requests it sent) for server callbacks
    set off by ``prop_id`` ("<id>.<property>") since this was first asked on this page load; the
    first call installs the counter and says 0."""
    key = f"sent {prop_id}" if sent else prop_id
    return int(dash_duo.driver.execute_script(COUNT_CALLBACKS).get(key, 0))


def wait_for_callbacks(dash_duo, prop_id: str, count: int = 1, timeout: float = 20.0, sent: bool = False) -> None:
    """Wait until ``count`` more server callbacks set off by ``prop_id`` have been answered and
    drawn (``sent``: have gone out), instead of sleeping through a guess of how long they take."""
    start = callbacks_seen(dash_duo, prop_id, sent)
    wait_for(lambda: callbacks_seen(dash_duo, prop_id, sent) >= start + count, timeout,
             f"{count} callbacks on {prop_id}" + (" sent" if sent else ""))


def wait_for_refreshes(dash_duo, interval: str, count: int = 1, timeout: float = 20.0) -> None:
    """Wait until the page's dcc.Interval ``interval`` has set off ``count`` more refreshes and
    their answers have been drawn."""
    wait_for_callbacks(dash_duo, f"{interval}.n_intervals", count, timeout)
