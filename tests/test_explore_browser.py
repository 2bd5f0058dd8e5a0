"""The explore page in a real browser: headless Chromium, driven by selenium, steps through the
article's y = 5*x1**2 + 8*x2 + 35*x3 + 30 and small MLPs with the keys and the buttons, and checks
what the page shows against `trace` and `backward()`: the step counter, the outlined edge and
boxes, the step panel, the gradients filling in, the details of a box. No JavaScript error may be
logged and nothing may be fetched (the machine has no network; the page needs none).

Skipped, with the reason, where selenium, Chromium, chromedriver or Graphviz's dot is missing;
in CI (CI set), .ci/run installs them, so there the test fails instead of skipping."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autodiff import Tensor, Value, explore, topological_order
from autodiff.drawing import format_array, format_number

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install '.[browser]')"
    if not any(shutil.which(b) for b in BROWSERS):
        return "Chromium is not installed (Debian/Ubuntu: apt-get install chromium)"
    if shutil.which("chromedriver") is None:
        return "chromedriver is not installed (Debian/Ubuntu: apt-get install chromium-driver)"
    if shutil.which("dot") is None:
        return "Graphviz's dot is not installed (apt-get install graphviz)"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI"):  # .ci/run installs all of it: never skip there
            pytest.fail(f"cannot run the browser test in CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(b) for b in BROWSERS if shutil.which(b))
    profile = tmp_path_factory.mktemp("chromium-profile")
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--window-size=1400,900",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


# --- driving the page --------------------------------------------------------------------------


def open_page(browser, page, path: Path) -> None:
    """Load the saved page from a file, as a user opens it, and wait for its script."""
    page.save(path)
    browser.get_log("browser")  # start with empty logs
    browser.get_log("performance")
    browser.get(path.as_uri())
    deadline = time.monotonic() + 10
    while not browser.execute_script("return !!window.autodiffExplore"):
        assert time.monotonic() < deadline, "the page's script did not start"
        time.sleep(0.05)


def check_logs(browser) -> None:
    """No JavaScript error, and no request for anything but the page's own file."""
    logged = browser.get_log("browser")
    errors = [e for e in logged if e["level"] == "SEVERE"]
    assert not errors, errors
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            # the page's own file; chrome: is the browser's new tab, before the page loads
            assert url.startswith(("file:", "data:", "about:", "chrome:")), f"fetched {url}"


STATE = """
const text = (id) => document.getElementById(id).textContent;
const grads = {};
for (const g of document.querySelectorAll('#ad-svg g.node')) {
  const t = Array.from(g.querySelectorAll('text')).map((x) => x.textContent)
    .find((x) => x.startsWith('grad '));
  if (t !== undefined) grads[g.id] = t;
}
return {
  counter: text('ad-counter'),
  step: Number(document.getElementById('ad-slider').value),
  outlined: Array.from(document.querySelectorAll('#ad-svg .ad-current')).map((x) => x.id),
  panel: text('ad-step'),
  grads: grads,
  valuetext: document.getElementById('ad-slider').getAttribute('aria-valuetext'),
};
"""


def state(browser) -> dict:
    return browser.execute_script(STATE)


def press(browser, *keys) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).send_keys(*keys).perform()


def shift(browser, key) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(browser).key_down(Keys.SHIFT).send_keys(key).key_up(Keys.SHIFT).perform()


def click(browser, element_id: str) -> None:
    browser.find_element("id", element_id).click()


def check_step(browser, page, k: int) -> dict:
    """The page at step k shows step k of the data: counter, outline, panel, gradient."""
    data = page.data
    n = len(data["steps"])
    now = state(browser)
    assert now["step"] == k and now["counter"] == f"Step {k:,} of {n:,}"
    if k == 0:
        assert now["outlined"] == []
        assert set(now["grads"].values()) == {"grad not computed"}
        assert "Forward pass" in now["panel"]
        return now
    step = data["steps"][k - 1]
    assert set(now["outlined"]) == set(data["places"][step["place"]]["ids"])
    for key in ("upstream", "product", "accumulated"):
        assert step[key]["text"] in now["panel"]
    assert (step["formula"] or step["local"]["text"]) in now["panel"]
    receiving = data["nodes"][step["node"]]
    if receiving["box"] in now["grads"]:
        assert now["grads"][receiving["box"]] == f"grad {step['accumulated']['text']}"
    assert now["valuetext"].startswith(f"Step {k:,} of {n:,}: {receiving['name']} receives")
    return now


def shown_gradients_equal_backward(browser, root) -> None:
    """At the last step every box's gradient is what backward() (called before) stored, as the
    drawing writes it."""
    grads = state(browser)["grads"]
    nodes = topological_order(root)
    checked = 0
    for i, node in enumerate(nodes):
        if f"n{i}" not in grads:
            continue
        grad = node.grad
        if grad is None:  # a tensor that backward() passes gradient through but does not keep
            continue
        text = format_array(grad) if hasattr(grad, "shape") else format_number(grad)
        assert grads[f"n{i}"] == f"grad {text}", (i, node)
        checked += 1
    assert checked > 0


def article_y() -> tuple:
    x1, x2, x3 = Value(2.0, label="x1"), Value(1.0, label="x2"), Value(4.0, label="x3")
    y = 5 * x1**2 + 8 * x2 + 35 * x3 + 30
    y.label = "y"
    return y, (x1, x2, x3)


def mlp_loss(sizes: list[int], points: int) -> Value:
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, sizes, seed=0)
    data = [([0.5, -1.0], 1.0), ([2.0, 0.3], -1.0)][:points]
    loss = Value.sum((model(x) - t) ** 2 for x, t in data)
    loss.label = "loss"
    return loss


# --- the tests ---------------------------------------------------------------------------------


def test_article_example_with_the_keys_then_the_buttons(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    y, (x1, x2, x3) = article_y()
    page = explore(y)
    open_page(browser, page, tmp_path / "article.html")
    check_step(browser, page, 0)
    browser.save_screenshot(str(tmp_path / "first.png"))
    for k in range(1, 14):
        press(browser, Keys.ARROW_RIGHT)
        check_step(browser, page, k)
    press(browser, Keys.ARROW_RIGHT)  # past the end: stays
    check_step(browser, page, 13)
    assert "Backward pass complete" in state(browser)["panel"]
    browser.save_screenshot(str(tmp_path / "last.png"))
    grads = state(browser)["grads"]
    by_name = {n["name"]: grads.get(n["box"]) for n in page.data["nodes"]}
    assert (by_name["x1"], by_name["x2"], by_name["x3"]) == ("grad 20", "grad 8", "grad 35")
    for k in range(12, -1, -1):
        press(browser, Keys.ARROW_LEFT)
        check_step(browser, page, k)
    press(browser, Keys.END)
    check_step(browser, page, 13)
    press(browser, Keys.HOME)
    check_step(browser, page, 0)

    for k in range(1, 14):  # the buttons
        click(browser, "ad-next")
        check_step(browser, page, k)
    assert not browser.find_element("id", "ad-next").is_enabled()
    click(browser, "ad-prev")
    check_step(browser, page, 12)
    click(browser, "ad-first")
    check_step(browser, page, 0)
    assert not browser.find_element("id", "ad-prev").is_enabled()
    click(browser, "ad-last")
    check_step(browser, page, 13)
    y.backward()
    shown_gradients_equal_backward(browser, y)
    check_logs(browser)
    for name in ("first.png", "last.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_small_mlp_every_step_and_final_gradients(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    loss = mlp_loss([3, 1], points=2)  # each parameter's gradient sums two paths
    page = explore(loss)
    n = len(page.data["steps"])
    assert page.data["grouping"] == "" and n > 40
    open_page(browser, page, tmp_path / "mlp.html")
    for k in range(1, n + 1):
        press(browser, Keys.ARROW_RIGHT)
        check_step(browser, page, k)
    loss.backward()
    shown_gradients_equal_backward(browser, loss)
    browser.save_screenshot(str(tmp_path / "mlp_last.png"))
    check_logs(browser)


def test_grouped_mlp_steps_by_box_and_shows_group_members(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    loss = mlp_loss([16, 16, 1], points=2)
    page = explore(loss)
    data = page.data
    assert data["grouping"] == "layer"
    open_page(browser, page, tmp_path / "grouped.html")
    note = browser.find_element("id", "ad-note").text
    assert "grouped by layer" in note and "Shift+" in note
    # a run of steps at one place is one box's: Box >> lands on the first step of each run
    places = [s["place"] for s in data["steps"]]
    starts = [k + 1 for k in range(len(places)) if k == 0 or places[k] != places[k - 1]]
    assert browser.find_element("id", "ad-next-box").is_displayed()
    for start in starts[:12]:
        click(browser, "ad-next-box")
        check_step(browser, page, start)
    shift(browser, Keys.ARROW_RIGHT)  # the same with the keys
    check_step(browser, page, starts[12])
    shift(browser, Keys.ARROW_LEFT)
    check_step(browser, page, starts[11])
    press(browser, Keys.ARROW_RIGHT)  # inside a run, Shift+Left goes back to its start
    shift(browser, Keys.ARROW_LEFT)
    check_step(browser, page, starts[11])
    press(browser, Keys.END)
    check_step(browser, page, len(places))
    # every group's bar is full: each of its values has its gradient
    bars = browser.execute_script(
        "return Array.from(document.querySelectorAll('rect.ad-bar-fill')).map((r) =>"
        " [r.getAttribute('width'), r.previousElementSibling.getAttribute('width')]);"
    )
    assert bars and all(abs(float(a) - float(b)) < 1e-6 for a, b in bars)
    # clicking a group box lists its values with the gradients backward() gives them
    layer = next(n["box"] for n in data["nodes"] if n["label"] == "layers.0.neurons.0.w.0")
    browser.find_element("id", layer).click()
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#ad-details .ad-members tbody tr'))"
        ".map((r) => Array.from(r.cells).map((c) => c.textContent));"
    )
    loss.backward()
    nodes = topological_order(loss)
    members = [i for i, n in enumerate(data["nodes"]) if n["box"] == layer]
    last = {i: 0 for i in members}
    for k, step in enumerate(data["steps"], 1):
        if step["node"] in last:
            last[step["node"]] = k
    # the values that received gradient most recently come first
    members.sort(key=lambda i: -last[i])
    assert len(rows) == 14 < len(members)
    for (name, _op, shown_data, shown_grad), i in zip(rows, members):
        assert name == data["nodes"][i]["name"]
        assert shown_data == format_number(nodes[i].data)
        assert shown_grad == format_number(nodes[i].grad)
    assert "layers.0" in browser.find_element("id", "ad-details").text
    check_logs(browser)


def test_tensor_details_show_shape_summary_and_gradient(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    W = Tensor([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], requires_grad=True, label="W")
    x = Tensor([[1.0, 2.0, 3.0]], label="x")
    loss = (x @ W).tanh().sum()
    page = explore(loss)
    open_page(browser, page, tmp_path / "tensor.html")
    box = next(n["box"] for n in page.data["nodes"] if n["name"] == "W")
    ActionChains(browser).move_to_element(browser.find_element("id", box)).perform()
    details = browser.find_element("id", "ad-details").text
    assert "(3, 2) float64" in details and "min -0.5, mean 0.1167, max 0.6" in details
    assert "not computed yet" in details
    # the mouse leaves the box: its details stay, and follow the steps
    ActionChains(browser).move_to_element(browser.find_element("tag name", "h1")).perform()
    press(browser, Keys.END)
    details = browser.find_element("id", "ad-details").text
    loss.backward()
    assert format_array(W.grad) in details and "final, as backward() stores it" in details
    shown_gradients_equal_backward(browser, loss)
    check_logs(browser)


def test_keyboard_play_focus_and_labels(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.select import Select

    y, _ = article_y()
    page = explore(y)
    open_page(browser, page, tmp_path / "keys.html")
    speed = Select(browser.find_element("id", "ad-speed"))
    speed.select_by_value("100")  # steps per second
    browser.find_element("tag name", "h1").click()  # away from the controls: focus on the page
    press(browser, " ")  # play, to the end
    deadline = time.monotonic() + 10
    while state(browser)["step"] < 13:
        assert time.monotonic() < deadline, "playing did not reach the last step"
        time.sleep(0.05)
    time.sleep(0.1)
    assert browser.find_element("id", "ad-play").get_attribute("aria-pressed") == "false"
    speed.select_by_value("1")
    browser.find_element("tag name", "h1").click()
    press(browser, Keys.HOME, " ")  # from the start, at one step a second
    assert browser.find_element("id", "ad-play").get_attribute("aria-pressed") == "true"
    assert browser.find_element("id", "ad-play").text.endswith("Pause")
    press(browser, " ")  # pause
    assert browser.find_element("id", "ad-play").get_attribute("aria-pressed") == "false"
    paused = state(browser)["step"]
    time.sleep(1.2)
    assert state(browser)["step"] == paused <= 1
    # every control is labelled; focus is visible
    for element in browser.find_elements("css selector", ".ad-controls button, #ad-slider"):
        assert element.get_attribute("aria-label"), element.get_attribute("id")
    press(browser, Keys.HOME)
    browser.find_element("id", "ad-slider").click()
    press(browser, Keys.TAB)  # from the slider to the speed control, by keyboard
    outline = browser.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return [document.activeElement.id, s.outlineStyle, parseFloat(s.outlineWidth)];"
    )
    assert outline[0] == "ad-speed" and outline[1] == "solid" and outline[2] >= 2
    # the value boxes are reachable by Tab and say what they are
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('#ad-svg g.node'))"
        ".map((g) => [g.getAttribute('tabindex'), g.getAttribute('aria-label')]);"
    )
    assert all(t == "0" and label for t, label in labels)
    assert any(label.startswith("value x1") for _, label in labels)
    check_logs(browser)


def test_hostile_labels_show_as_text(browser, tmp_path):
    nasty = "</script><img src=x onerror=alert(1)>"
    x = Value(2.0, label=nasty)
    y = x * 3
    page = explore(y)
    open_page(browser, page, tmp_path / "nasty.html")
    browser.find_element("id", "n0").click()
    assert nasty in browser.find_element("id", "ad-details").text
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    check_logs(browser)


def test_the_jupyter_iframe_runs_the_page(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    y, _ = article_y()
    page = explore(y)
    path = tmp_path / "notebook.html"
    path.write_text(f"<!doctype html><html><body>{page._repr_html_()}</body></html>")
    browser.get_log("browser")
    browser.get(path.as_uri())
    browser.switch_to.frame(browser.find_element("tag name", "iframe"))
    try:
        deadline = time.monotonic() + 10
        while not browser.execute_script("return !!window.autodiffExplore"):
            assert time.monotonic() < deadline, "the page did not start in its iframe"
            time.sleep(0.05)
        browser.find_element("tag name", "h1").click()
        press(browser, Keys.END)
        check_step(browser, page, 13)
    finally:
        browser.switch_to.default_content()
    check_logs(browser)
