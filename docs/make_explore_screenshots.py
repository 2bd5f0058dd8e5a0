"""Make docs/explore_first.png and docs/explore_last.png, the README's pictures of the page that
steps through a backward pass: the article's y = 5*x1**2 + 8*x2 + 35*x3 + 30 at x1=2, x2=1,
x3=4, at step 0 (the forward pass) and at the last step (every gradient, x1's details shown).

    python docs/make_explore_screenshots.py

Needs Graphviz's dot, selenium, Chromium and chromedriver (Debian: apt-get install graphviz
chromium chromium-driver); the browser runs headless and fetches nothing.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's autodiff, whatever is installed

from autodiff import Value, explore  # noqa: E402
from autodiff.drawing import _write_atomic  # noqa: E402

WINDOW = (1280, 1000)  # CSS pixels: a laptop browser window (the viewport is ~860 high)


def chrome(profile: Path):
    """Headless Chromium with a fresh profile and nothing that reaches the network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None or shutil.which("chromedriver") is None:
        sys.exit("needs Chromium and chromedriver (Debian: apt-get install chromium-driver)")
    options.binary_location = browser
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1.5",
        f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):  # fmt: skip
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))


def main() -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    x1, x2, x3 = Value(2.0, label="x1"), Value(1.0, label="x2"), Value(4.0, label="x3")
    y = 5 * x1**2 + 8 * x2 + 35 * x3 + 30
    y.label = "y"
    page = explore(y)
    with tempfile.TemporaryDirectory() as work:
        path = page.save(Path(work) / "y.html")
        driver = chrome(Path(work) / "profile")
        try:
            driver.get(path.as_uri())
            while not driver.execute_script("return !!window.autodiffExplore"):
                time.sleep(0.05)
            driver.find_element("tag name", "h1").click()
            _write_atomic(ROOT / "docs" / "explore_first.png", driver.get_screenshot_as_png())
            ActionChains(driver).send_keys(Keys.END).perform()
            box = next(n["box"] for n in page.data["nodes"] if n["name"] == "x1")
            driver.find_element("id", box).click()  # pin x1's details: grad 20 = 10 * x1
            _write_atomic(ROOT / "docs" / "explore_last.png", driver.get_screenshot_as_png())
        finally:
            driver.quit()
    print("wrote docs/explore_first.png and docs/explore_last.png")


if __name__ == "__main__":
    main()
