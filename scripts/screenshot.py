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
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 f"--window-size={args.width},{args.height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options)
    try:
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


if __name__ == "__main__":
    main()
