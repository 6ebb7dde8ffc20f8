"""A real browser (Debian's Chromium via Playwright) loads the parish page from a live server with no outside
network, waits for the crime tiles, checks the legend, attribution and accessibility (axe-core), and saves a
screenshot (tests/api/artifacts/). Fails rather than skips under CI when Chromium is missing."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.api.conftest import ROLE_TOKEN, TELFORD_WARD, WELLINGTON_PARISH  # noqa: E402
from tests.conftest import need  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "api/static/vendor/axe-core/axe.min.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(web_app):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    need(CHROMIUM.exists(), "Chromium at /usr/bin/chromium (apt-get install chromium)")
    need(AXE.exists(), "axe-core in api/static/vendor (scripts/setup copies the npm assets)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


def open_page(browser, live_server, path: str, token: str | None = None, width: int = 1280):
    ctx = browser.new_context(viewport={"width": width, "height": 900},
                              extra_http_headers={"Authorization": f"Bearer {token}"} if token else {})
    outside = []

    def only_local(route):
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_local)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_server + path, wait_until="load")
    page.wait_for_selector("#map-status[data-loaded=true]", timeout=20_000)
    page.wait_for_function("document.querySelectorAll('.leaflet-overlay-pane path, .leaflet-tile-container path,"
                           " .leaflet-pane svg path').length > 3", timeout=20_000)
    return ctx, page, outside, errors


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', "
                           "'wcag22aa']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("path, role, name", [
    (f"/maps/parish/{WELLINGTON_PARISH}", None, "parish"),
    (f"/maps/area/ward/{TELFORD_WARD}", "neighbourhood", "area"),
    ("/maps/hotspots", "analyst", "hotspots"),
])
def test_page_draws_tiles_offline_and_is_accessible(browser, live_server, path, role, name):
    ctx, page, outside, errors = open_page(browser, live_server, path, ROLE_TOKEN[role] if role else None)
    try:
        assert not outside, f"requests to other hosts: {outside[:3]}"
        assert not errors, errors
        assert int(page.locator(".leaflet-container").get_attribute("data-tiles") or 0) >= 1
        assert page.get_by_text("Contains public sector information licensed under the Open Government Licence "
                                "v3.0").first.is_visible()
        assert page.locator("ul.legend").first.is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        bad = axe_violations(page)
        assert not bad, [(v["id"], v["help"], len(v["nodes"])) for v in bad]
    finally:
        ctx.close()


#: fills of significant Gi* classes (api/static/app/crimemap.js)
HOT_FILLS = ("#b2182b", "#ef8a62", "#fddbc7", "#2166ac", "#67a9cf", "#d1e5f0")


def pane_paths(page, pane: str) -> dict[str, int]:
    """SVG paths drawn in one Leaflet pane, counted by fill colour."""
    return page.evaluate("""(pane) => { const n = {}; document.querySelectorAll('.leaflet-' + pane + '-pane path')
        .forEach(p => { const f = p.getAttribute('fill'); n[f] = (n[f] || 0) + 1; }); return n; }""", pane)


def test_hotspot_page_draws_hot_spots_and_county_lines(browser, live_server):
    ctx, page, outside, errors = open_page(browser, live_server, "/maps/hotspots", ROLE_TOKEN["analyst"])
    try:
        assert not outside and not errors, (outside[:3], errors)
        hot = pane_paths(page, "hotspots")
        assert sum(hot.get(c, 0) for c in HOT_FILLS) >= 5, f"no significant hot-spot cells drawn: {hot}"
        assert sum(pane_paths(page, "overlay").values()) > 3  # the choropleth under them
        lines = pane_paths(page, "countylines")
        assert sum(lines.values()) >= 20, f"county-lines flows, areas and stations not drawn: {lines}"
        assert int(page.locator(".leaflet-container").get_attribute("data-lines")) >= 20
        assert page.locator(".map-note").get_by_text("SYNTHETIC").is_visible()  # on the map itself
        kde = page.evaluate("document.querySelectorAll('.leaflet-kde-pane path').length")
        assert kde == int(page.locator(".leaflet-container").get_attribute("data-kde")) == 3, kde
        assert page.locator("#kde-rows tr").count() == 3  # the table beside the map
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".leaflet-container").screenshot(path=str(ARTIFACTS / "hotspots-map.png"))
        page.locator(".leaflet-kde-pane path").first.dispatch_event("click")  # a stroke-only outline
        assert page.locator(".leaflet-popup-content").get_by_text("KDE contour").is_visible()
        # two months only: the map says why there are no emerging hot spots instead of failing
        assert page.locator("#emerging-status").get_by_text("need at least 6 months of data").is_visible()
        for legend in ("Hot-spot legend", "Choropleth legend", "County-lines legend", "KDE contour legend",
                       "Emerging hot-spot legend"):
            assert page.get_by_label(legend, exact=True).is_visible()
        # the filters reload the page with tiles for that crime type and month
        page.select_option("#crime_type", "Drugs")
        page.select_option("#months", "2019-01")
        with page.expect_navigation():
            page.get_by_role("button", name="Show").click()
        page.wait_for_selector("#map-status[data-loaded=true]", timeout=20_000)
        assert "crime_type=Drugs" in page.url and "months=2019-01" in page.url
        assert "No cached hot-spot run for these filters" in page.content()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hotspots-drugs.png"), full_page=True)
    finally:
        ctx.close()


def test_parish_page_on_a_phone(browser, live_server):
    ctx, page, _, _ = open_page(browser, live_server, f"/maps/parish/{WELLINGTON_PARISH}", width=390)
    try:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "parish-phone.png"), full_page=True)
    finally:
        ctx.close()


#: fills of emerging categories (api/static/app/crimemap.js)
EMERGING_FILLS = ("#8c510a", "#d8b365", "#f6e8c3", "#01665e", "#5ab4ac", "#c7eae5")


def test_hotspot_page_draws_emerging_classes(browser, live_server, emerging_cached):
    ctx, page, outside, errors = open_page(browser, live_server, "/maps/hotspots?crime_type=Burglary",
                                           ROLE_TOKEN["analyst"])
    try:
        assert not outside and not errors, (outside[:3], errors)
        drawn = pane_paths(page, "emerging")
        shown = int(page.locator(".leaflet-container").get_attribute("data-emerging"))
        assert shown == (emerging_cached["category"] != "no pattern").sum() == sum(drawn.values())
        assert set(drawn) <= set(EMERGING_FILLS) and len(drawn) == len(EMERGING_FILLS), drawn
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".leaflet-container").screenshot(path=str(ARTIFACTS / "hotspots-emerging.png"))
        page.locator(".leaflet-emerging-pane path").first.dispatch_event("click")
        assert page.locator(".leaflet-popup-content").get_by_text("Mann-Kendall trend z").is_visible()
    finally:
        ctx.close()
