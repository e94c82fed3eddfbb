"""`cnncalc report` in a real headless browser: Debian's Chromium (/usr/bin/chromium),
driven by Playwright, never a downloaded browser. The page opens from file:// without a
console error and without a request but for the file itself; its table has one row per
layer and its diagram one node per layer (per folded block with --depth); a click on the
MACs header sorts the rows by MACs, largest first, and a second click reverses them; a
row and its node light up together.

Without Chromium or Playwright the tests skip, saying why; in CI (the CI variable set)
that is a failure instead: .ci/run installs them."""
from __future__ import annotations

import os
import shutil

import pytest

import cnncalc
from cnncalc.fold import fold
from cnncalc.network import INPUT

from helpers import SPECS, invoke

CHROMIUM = os.environ.get("CNNCALC_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"the browser test cannot run in CI: {reason}")
    pytest.skip(f"no headless browser: {reason}")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed (pip install -e '.[test]')")
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        except Error as error:
            _unavailable(f"{CHROMIUM} does not start: {str(error).splitlines()[0]}")
        yield launched
        launched.close()


class Opened:
    """A report opened in a fresh page, with what the page said and asked for."""

    def __init__(self, browser, path, color_scheme: str = "light"):
        self.errors, self.requests = [], []
        self.page = browser.new_page(color_scheme=color_scheme, viewport={"width": 1280, "height": 900})
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.url = path.as_uri()
        self.page.goto(self.url, wait_until="load")

    def column(self, index: int) -> list:
        return self.page.eval_on_selector_all(
            "table.layers tbody tr", f"rows => rows.map(row => row.cells[{index}].dataset.value ?? row.cells[{index}].textContent)")

    def names(self) -> list:
        return self.page.eval_on_selector_all("table.layers tbody tr", "rows => rows.map(row => row.dataset.name)")


def _written(tmp_path, stem: str, *options: str):
    path = tmp_path / f"{stem}.html"
    result = invoke("report", str(SPECS / f"{stem}.yaml"), "-o", str(path), *options)
    assert result.exit_code == 0, result.output + result.stderr
    return path


@pytest.mark.parametrize("stem, depth", [("lenet5", None), ("resnet18", None), ("googlenet", 2)])
def test_the_page_loads_quietly_and_shows_every_row_and_node(browser, tmp_path, stem, depth):
    summary = cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml")))
    rows = summary.layers if depth is None else fold(summary.layers, depth)
    opened = Opened(browser, _written(tmp_path, stem, *(["--depth", str(depth)] if depth else [])))
    page = opened.page
    assert opened.errors == []
    assert opened.requests == [opened.url]  # the file itself, nothing else
    assert opened.names() == [row.name for row in rows]
    nodes = page.eval_on_selector_all(".diagram svg g.node", "nodes => nodes.map(node => node.dataset.name)")
    assert sorted(nodes) == sorted([INPUT] + [row.name for row in rows])
    assert page.eval_on_selector(".diagram svg", "svg => svg.getBBox().width * svg.getBBox().height") > 0
    assert page.inner_text("h1") == summary.name
    opened.page.close()


def test_a_click_on_macs_sorts_by_macs_and_a_second_reverses(browser, tmp_path):
    summary = cnncalc.summarize(cnncalc.load(str(SPECS / "resnet18.yaml")))
    opened = Opened(browser, _written(tmp_path, "resnet18"))
    network_order = [record.name for record in summary.layers]
    macs = {record.name: record.macs for record in summary.layers}
    header = opened.page.locator("table.layers thead th", has_text="MACs")
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    largest_first = sorted(network_order, key=lambda name: -macs[name])  # ties in the network's order
    assert opened.names() == largest_first
    assert [int(value) for value in opened.column(4)] == sorted(macs.values(), reverse=True)
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert opened.names() == sorted(network_order, key=lambda name: macs[name])
    assert opened.errors == []
    opened.page.close()


def test_a_row_and_its_node_light_up_together(browser, tmp_path):
    opened = Opened(browser, _written(tmp_path, "resnet18", "--depth", "2"))
    page = opened.page
    page.locator('table.layers tbody tr[data-name="layer2.0"]').click()
    assert page.eval_on_selector_all(".lit", "lit => lit.map(e => e.dataset.name)") == ["layer2.0", "layer2.0"]
    page.mouse.move(0, 0)  # off the table: a row passing under a resting pointer lights up too
    page.locator('.diagram g.node[data-name="fc"]').dispatch_event("click")
    lit = page.eval_on_selector_all(".lit", "lit => lit.map(e => e.tagName.toLowerCase() + ' ' + e.dataset.name)")
    assert sorted(lit) == ["g fc", "tr fc"]
    assert opened.errors == []
    page.close()


def test_dark_mode_follows_the_system(browser, tmp_path):
    path = _written(tmp_path, "lenet5")
    backgrounds = []
    for scheme in ("light", "dark"):
        opened = Opened(browser, path, color_scheme=scheme)
        backgrounds.append(opened.page.evaluate("getComputedStyle(document.body).backgroundColor"))
        opened.page.close()
    assert backgrounds[0] != backgrounds[1]


def test_receptive_fields_sort_as_numbers(browser, tmp_path):
    """--rf's columns sort by their integers (435 after 99 as text, before it as a number);
    rows without a field come last."""
    opened = Opened(browser, _written(tmp_path, "resnet18", "--rf"))
    header = opened.page.locator("table.layers thead th", has_text="RF")
    header.click()
    values = opened.column(6)
    numbers = [int(value) for value in values if value.lstrip("-").isdigit()]
    assert numbers == sorted(numbers, reverse=True) and len(set(numbers)) > 5
    assert values[:len(numbers)] == [str(n) for n in numbers]  # the rest, without a number, after them
    assert opened.errors == []
    opened.page.close()
