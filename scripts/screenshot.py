"""Take a screenshot of a running Sync Monitor page with headless Chromium.

    python scripts/screenshot.py http://127.0.0.1:8050/ docs/overview.png [--width 1400] [--wait 6]

Prints the browser console's messages, so a look at a page also checks its console is clean.
"""

from __future__ import annotations

import argparse
import time

from selenium import webdriver


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("output")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--wait", type=float, default=6.0)
    parser.add_argument("--sign-in", metavar="NAME", help="sign in first; the password is read from stdin")
    args = parser.parse_args()
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
        driver.get(args.url)
        time.sleep(args.wait)
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(args.width, max(args.height, height + 40))
        time.sleep(0.5)
        driver.save_screenshot(args.output)
        seen: dict[str, int] = {}
        for entry in driver.get_log("browser"):
            key = f"{entry['level']} {entry['message'].splitlines()[0][:300]}"
            seen[key] = seen.get(key, 0) + 1
        for message, times in seen.items():
            print(f"{message}  (x{times})" if times > 1 else message)
        print(f"console: {len(seen)} distinct messages")
    finally:
        driver.quit()


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
