"""Take a screenshot of a running Sync Monitor page with headless Chromium.

    python scripts/screenshot.py http://127.0.0.1:8050/ docs/overview.png [--width 1400] [--wait 6]
        [--theme light|dark] [--clock local|utc]
    python scripts/screenshot.py http://127.0.0.1:8050 docs/screenshots --all [--widths 390,1440]
        [--themes light,dark]    every main page, named <page>-<width>-<theme>.png
    python scripts/screenshot.py http://127.0.0.1:8050 docs/screenshots --readme
                                 the README's set: every page at 1440 px light, a few at 390 px and dark
    add --check to any of them: each page shot is also checked as the browser sweep
                                 (tests/web/test_every_page_browser.py) checks it: axe-core's
                                 colour contrast, legends over axis labels, overlapping grid headers,
                                 light charts or panels in the dark theme, unlabelled state colours

--theme is the navbar's Theme menu: Light, Dark or System (light, dark, system). Prints the browser
console's messages, so a look at a page also checks its console is clean, and says when a page
scrolls sideways. With --check it ends with the number of findings and exits 1 when there are any
(axe-core comes from tests/axe, installed by `bash .ci/setup`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from selenium import webdriver

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support import page_checks  # noqa: E402 - the checks the browser sweep runs

README_EXTRAS = (("overview", 390, "light"), ("overview", 1440, "dark"), ("history", 390, "dark"),
                 ("api-usage", 1440, "dark"))
PAGES = {"overview": "/", "timeline": "/timeline", "history": "/history", "performance": "/performance",
         "errors": "/errors", "api-usage": "/api-usage", "failed": "/failed", "alerts": "/alerts", "health": "/health"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("output")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--wait", type=float, default=6.0)
    parser.add_argument("--sign-in", metavar="NAME", help="sign in first; the password is read from stdin")
    parser.add_argument("--theme", choices=("light", "dark", "system"), default="light")
    parser.add_argument("--clock", choices=("local", "utc"), default="local")
    parser.add_argument("--all", action="store_true", help="url is the app's base, output a folder")
    parser.add_argument("--readme", action="store_true", help="the README's screenshots (url: base, output: folder)")
    parser.add_argument("--widths", default="390,1440")
    parser.add_argument("--themes", default="light,dark")
    parser.add_argument("--check", action="store_true",
                        help="check each page shot (contrast and geometry, as the browser sweep does)")
    args = parser.parse_args()
    checker = Checker() if args.check else None
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 f"--window-size={args.width},{args.height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options)
    try:
        if args.sign_in:
            _sign_in(driver, args.url, args.sign_in, input())
        if args.readme:
            folder = Path(args.output)
            folder.mkdir(parents=True, exist_ok=True)
            shots = [(name, 1440, "light") for name in PAGES] + list(README_EXTRAS)
            for name, width, theme in shots:
                target = folder / f"{name}-{width}-{theme}.png"
                print(f"== {target}")
                shoot(driver, args.url.rstrip("/") + PAGES[name], str(target), width, args.height, args.wait, theme,
                      args.clock, checker)
        elif not args.all:
            shoot(driver, args.url, args.output, args.width, args.height, args.wait, args.theme, args.clock,
                  checker)
        else:
            folder = Path(args.output)
            folder.mkdir(parents=True, exist_ok=True)
            for name, path in PAGES.items():
                for width in (int(w) for w in args.widths.split(",")):
                    for theme in args.themes.split(","):
                        target = folder / f"{name}-{width}-{theme}.png"
                        print(f"== {target}")
                        shoot(driver, args.url.rstrip("/") + path, str(target), width, args.height, args.wait,
                              theme, args.clock, checker)
    finally:
        driver.quit()
    if checker is not None:
        print(f"checks: {checker.total} findings")
        if checker.total:
            sys.exit(1)


class Checker:
    """--check: the browser sweep's checks (tests/support/page_checks.py) on each page shot."""

    def __init__(self) -> None:
        self.axe = page_checks.axe_source()
        self.total = 0

    def run(self, driver: webdriver.Chrome, console: list[dict]) -> None:
        found = page_checks.geometry(driver) + page_checks.contrast(driver, self.axe)
        found += page_checks.severe_console(console)
        for finding in found:
            print(f"  {finding}")
        print(f"checks: {len(found)} findings on this page")
        self.total += len(found)


def shoot(driver: webdriver.Chrome, url: str, output: str, width: int, height: int, wait: float, theme: str,
          clock: str, checker: Checker | None = None) -> None:
    """One page at ``width`` in ``theme``: the navbar's own settings, kept where the page keeps them."""
    driver.set_window_size(width, height)
    driver.get(url)
    driver.execute_script("localStorage.setItem('sm-theme', arguments[0]); localStorage.setItem('sm-clock', "
                          "arguments[1]);", theme, clock)
    driver.get(url)
    time.sleep(wait)
    console = driver.get_log("browser")
    if checker is not None:  # at the window's own size, as a viewer sees it, once its layout is still
        try:
            page_checks.wait_settled(driver)
        except AssertionError as exc:
            print(f"  {exc}; checked as it is")
        checker.run(driver, console)
    page_height = driver.execute_script("return document.body.scrollHeight")
    sideways = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    driver.set_window_size(width, max(height, page_height + 40))
    time.sleep(0.5)
    driver.save_screenshot(output)
    seen: dict[str, int] = {}
    for entry in console + driver.get_log("browser"):
        key = f"{entry['level']} {entry['message'].splitlines()[0][:300]}"
        seen[key] = seen.get(key, 0) + 1
    for message, times in seen.items():
        print(f"{message}  (x{times})" if times > 1 else message)
    print(f"console: {len(seen)} distinct messages" + (f"; scrolls sideways by {sideways}px" if sideways > 0 else ""))


def _sign_in(driver: webdriver.Chrome, url: str, name: str, password: str) -> None:
    from urllib.parse import urljoin

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(urljoin(url, "/sign-in"))
    present = expected_conditions.presence_of_element_located((By.ID, "sign-in-username"))
    field = WebDriverWait(driver, 10).until(present)
    field.send_keys(name)
    driver.find_element(By.ID, "sign-in-password").send_keys(password)
    driver.find_element(By.ID, "sign-in-submit").click()
    WebDriverWait(driver, 10).until(expected_conditions.presence_of_element_located((By.ID, "signed-in-user")))


if __name__ == "__main__":
    main()
