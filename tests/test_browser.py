"""A real browser against a real server: open the app, click a section on the map, hear it.

Drives Debian's Chromium (``/usr/bin/chromium``; ``make test`` installs it
when missing) with Playwright -- no browser is downloaded. The server is
``streamlit run streamlit_app.py`` on a free local port with its data folder
in a temporary directory. A screenshot of every view lands in ``test-output/``.
"""

from __future__ import annotations

import os
import re

import pytest

from app_support import data_dir
from conftest import CEILING_S, ROOT
from server_support import start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
OUT = ROOT / "test-output"
VIEWS = {  # URL path -> screenshot name
    "Library": "library",
    "Neural_embeddings": "neural",
    "Compare_methods": "compare",
    "Similar_sections": "similar",
    "Review": "review",
}
ANALYSIS_TIMEOUT_MS = CEILING_S * 1000  # a cold store analyses the demo first (20-40 s on two idle cores)


@pytest.fixture(scope="module")
def server():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian's chromium is not installed (make test installs it: apt-get install chromium chromium-driver)")
    pytest.importorskip("playwright.sync_api")
    OUT.mkdir(exist_ok=True)
    proc, url = start_streamlit(data_dir(), OUT / "streamlit-server.log")
    try:
        yield url
    finally:
        stop_streamlit(proc)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1800})
        pg = context.new_page()
        pg.set_default_timeout(ANALYSIS_TIMEOUT_MS)
        yield pg
        context.close()
        browser.close()


def _settle(pg) -> None:
    """Wait until Streamlit has finished running the page: the app says its script is not
    running, and no running-script widget, spinner, working ``st.status`` box (its icon is a
    spinner until it completes) or element still drawn as a loading skeleton is left."""
    pg.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-testid=\"stSpinner\"]')"
        " && !document.querySelector('[data-testid=\"stExpanderIconSpinner\"]')"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]')",
        timeout=ANALYSIS_TIMEOUT_MS,
    )
    # every Plotly chart laid out (its _fullLayout exists once drawn), rather than a fixed pause
    pg.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].every(gd => gd._fullLayout && gd._fullData)",
        timeout=ANALYSIS_TIMEOUT_MS,
    )


def test_click_a_point_and_hear_that_section(server, page):
    pg = page
    pg.goto(server + "/")
    pg.get_by_text("Which tracks share sounds").wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    _settle(pg)
    pg.screenshot(path=str(OUT / "home.png"), full_page=True)

    pg.get_by_role("link", name="Classical features").first.click()
    chart = ".st-key-classical_map .js-plotly-plot"
    pg.wait_for_selector(chart, timeout=ANALYSIS_TIMEOUT_MS)
    _settle(pg)
    assert pg.locator(".st-key-listen_panel audio").count() == 0
    # where the first section of the first cluster is drawn, and which section it is
    point = pg.evaluate(
        """(sel) => {
            const gd = document.querySelector(sel);
            const tr = gd._fullData[0], fl = gd._fullLayout, box = gd.getBoundingClientRect();
            return {x: box.left + fl._size.l + fl.xaxis.l2p(tr.x[0]),
                    y: box.top + fl._size.t + fl.yaxis.l2p(tr.y[0]),
                    name: String(tr.customdata[0][1]), section: String(tr.customdata[0][2])};
        }""",
        chart,
    )
    pg.mouse.click(point["x"], point["y"])
    audio = pg.locator(".st-key-listen_panel audio")
    audio.first.wait_for(state="attached", timeout=ANALYSIS_TIMEOUT_MS)
    _settle(pg)
    heading = pg.locator(".st-key-listen_panel").inner_text()
    assert point["name"] in heading and f"section {point['section']}" in heading
    assert audio.first.get_attribute("src")
    pg.screenshot(path=str(OUT / "classical.png"), full_page=True)


def _mark_position(pg, chart: str, trace: str, index: int = 0) -> dict:
    """Where mark ``index`` of the trace named ``trace`` is drawn on the page."""
    return pg.evaluate(
        """([sel, name, i]) => {
            const gd = document.querySelector(sel);
            const tr = gd._fullData.find(t => t.name === name);
            const fl = gd._fullLayout, box = gd.getBoundingClientRect();
            return {x: box.left + fl._size.l + fl.xaxis.l2p(tr.x[i]), y: box.top + fl._size.t + fl.yaxis.l2p(tr.y[i])};
        }""",
        [chart, trace, index],
    )


def test_clicking_a_cluster_centre_is_safe(server, page):
    """A centre's numeric customdata reaches the app as a dict (Plotly sends numeric arrays as
    typed arrays): clicking one must neither raise nor change the section being played."""
    pg = page
    chart = ".st-key-classical_map .js-plotly-plot"
    if not pg.url.endswith("/Classical_features"):
        pg.goto(server + "/Classical_features")
    pg.wait_for_selector(chart, timeout=ANALYSIS_TIMEOUT_MS)
    _settle(pg)
    before = pg.locator(".st-key-listen_panel").inner_text()
    for i in range(pg.evaluate("(sel) => document.querySelector(sel)._fullData.find(t => t.name === 'cluster centres').x.length", chart)):
        centre = _mark_position(pg, chart, "cluster centres", i)
        pg.mouse.click(centre["x"], centre["y"])
        _settle(pg)
        assert pg.locator('[data-testid="stException"]').count() == 0
        pg.wait_for_selector(chart, timeout=ANALYSIS_TIMEOUT_MS)
    assert pg.locator(".st-key-listen_panel").inner_text() == before


@pytest.mark.parametrize("path", list(VIEWS))
def test_screenshot_of_each_view(server, page, path):
    page.goto(f"{server}/{path}")
    page.locator("h1").first.wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    _settle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    title = page.locator("h1").first.inner_text()
    assert re.sub(r"\s+", " ", title).strip().lower() == path.replace("_", " ").lower()
    if path == "Review":  # show a section under review, as a reviewer sees it
        page.get_by_label("Your name").fill("Ana")
        page.get_by_label("Your name").press("Enter")
        page.locator("audio").first.wait_for(state="attached")
        _settle(page)
    page.screenshot(path=str(OUT / f"{VIEWS[path]}.png"), full_page=True)
