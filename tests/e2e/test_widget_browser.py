"""The widget in real headless Chromium: accessibility, fixed sizes, keyboard, budgets."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Route,
    ViewportSize,
)

from collector.pages import COMPACT_HEIGHT, FULL_HEIGHT_BY_QUESTIONS
from tests.e2e.browser import (
    LANGUAGES,
    QUESTION_SETS,
    STATES,
    View,
    axe_violations,
    open_state,
    seed_services,
)
from tests.e2e.conftest import ServeProcess

NARROW: ViewportSize = {"width": 320, "height": 800}
# 200% zoom on a 320 px wide screen: the document sees 160 CSS pixels.
ZOOMED: ViewportSize = {"width": 160, "height": 400}
LAYOUT_VIEWS = [("q3", "compact"), ("q3", "full"), ("q3", "page")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    seed_services(data_dir)
    process = ServeProcess(data_dir, {"COLLECTOR_RATE_LIMIT_PER_MINUTE": "1000000"})
    process.start()
    yield process
    process.kill()


def new_page(
    browser: Browser, viewport: ViewportSize, *, script: bool = False, scale: float = 1
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(
        java_script_enabled=script, viewport=viewport, device_scale_factor=scale
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def box_heights(page: Page) -> tuple[int, int]:
    heights: list[int] = page.locator("main.box").evaluate("e => [e.scrollHeight, e.clientHeight]")
    return heights[0], heights[1]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("service", "layout", "height"),
    [("q3", "compact", COMPACT_HEIGHT)]
    + [(f"q{n}", "full", FULL_HEIGHT_BY_QUESTIONS[n]) for n in range(len(QUESTION_SETS))],
)
def test_every_state_fits_its_fixed_height_at_320px(
    browser: Browser,
    server: ServeProcess,
    service: str,
    layout: str,
    height: int,
    language: str,
    state: str,
) -> None:
    context, page = new_page(browser, {"width": 320, "height": height})
    try:
        open_state(page, server.url, View(service, layout, language, state))
        scroll, client = box_heights(page)
        assert client == height
        assert scroll <= client, f"{scroll - client}px overflow"
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [NARROW, ZOOMED], ids=["320px", "200%-zoom"])
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize(("service", "layout"), LAYOUT_VIEWS)
def test_axe_finds_no_violations(
    browser: Browser,
    server: ServeProcess,
    service: str,
    layout: str,
    state: str,
    viewport: ViewportSize,
) -> None:
    scale = 2 if viewport is ZOOMED else 1
    context, page = new_page(browser, viewport, script=True, scale=scale)
    try:
        open_state(page, server.url, View(service, layout, "en", state))
        assert page.locator("script").count() == 0
        assert axe_violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_finds_no_violations_in_any_language(
    browser: Browser, server: ServeProcess, language: str
) -> None:
    context, page = new_page(browser, NARROW, script=True)
    try:
        open_state(page, server.url, View("q3", "page", language, "error"))
        assert axe_violations(page) == []
    finally:
        context.close()


def stored_ratings(server: ServeProcess, service: str) -> int:
    response = httpx.get(
        f"{server.url}/api/v1/services/{service}/summary",
        headers={"authorization": f"Bearer {server.analyst_token}"},
    )
    return int(response.json()["count"])


def wait_for_ratings(server: ServeProcess, service: str, expected: int) -> None:
    deadline = time.monotonic() + 30
    while stored_ratings(server, service) < expected:
        assert time.monotonic() < deadline, "the rating was not flushed"
        time.sleep(0.05)


def test_keyboard_alone_completes_and_sends(browser: Browser, server: ServeProcess) -> None:
    before = stored_ratings(server, "q2")
    context, page = new_page(browser, NARROW)
    try:
        page.goto(f"{server.url}/w/q2")
        page.keyboard.press("Tab")  # first star
        assert page.evaluate("document.activeElement.id") == "r1"
        for _ in range(3):
            page.keyboard.press("ArrowRight")  # arrows move the choice within the group
        assert page.locator("#r4").is_checked()
        page.keyboard.press("Tab")  # "Was your issue resolved?"
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Tab")  # "How long did it take?"
        page.keyboard.press("Tab")  # comment
        page.keyboard.type("Ок")
        page.keyboard.press("Tab")  # the submit button (the honeypot is not reachable)
        assert page.evaluate("document.activeElement.type") == "submit"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "/thanks" in page.url
        assert page.locator("h1").inner_text() == "Thank you!"
    finally:
        context.close()
    wait_for_ratings(server, "q2", before + 1)


def test_star_targets_focus_and_selection(browser: Browser, server: ServeProcess) -> None:
    context, page = new_page(browser, NARROW)
    try:
        page.goto(f"{server.url}/w/q0")
        for star in range(1, 6):
            box = page.locator(f'label[for="r{star}"]').bounding_box()
            assert box is not None
            assert box["width"] >= 24
            assert box["height"] >= 24
        page.keyboard.press("Tab")
        page.keyboard.press("ArrowRight")  # star 2, focused by keyboard
        outline = page.locator('label[for="r2"]').evaluate(
            "e => [getComputedStyle(e).outlineStyle, parseFloat(getComputedStyle(e).outlineWidth)]"
        )
        assert outline[0] == "solid"
        assert outline[1] >= 2
        # Not by colour alone: the chosen star is underlined, the others are not.
        border = "e => getComputedStyle(e).borderBottomColor"
        assert page.locator('label[for="r2"]').evaluate(border) != "rgba(0, 0, 0, 0)"
        assert page.locator('label[for="r3"]').evaluate(border) == "rgba(0, 0, 0, 0)"
    finally:
        context.close()


def test_no_request_leaves_the_collector_and_no_cookie(
    browser: Browser, server: ServeProcess
) -> None:
    context, page = new_page(browser, NARROW)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        for layout in ("compact", "full", "page"):
            for state in STATES:
                open_state(page, server.url, View("q3", layout, "kk", state))
        assert requested
        assert all(url.startswith(server.url + "/w/") for url in requested), requested
        assert context.cookies() == []
    finally:
        context.close()


def test_works_with_css_off(browser: Browser, server: ServeProcess) -> None:
    def without_styles(route: Route) -> None:
        if route.request.method != "GET":  # let the POST and its 303 reach the browser
            route.continue_()
            return
        response = route.fetch()
        body = re.sub(r"<style>.*?</style>", "", response.text(), flags=re.DOTALL)
        route.fulfill(response=response, body=body)

    context, page = new_page(browser, NARROW)
    try:
        page.route(re.compile(r".*/w/q1(\?.*)?$"), without_styles)
        page.goto(f"{server.url}/w/q1")
        assert page.locator("style").count() == 0
        page.get_by_label("4 of 5, satisfied").check()  # the label text is visible
        page.get_by_label("Under an hour").check()
        with page.expect_navigation():
            page.get_by_role("button", name="Send rating").click()
        assert "/thanks" in page.url
    finally:
        context.close()


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize(("service", "layout"), LAYOUT_VIEWS)
def test_axe_finds_no_violations_in_dark_mode(
    browser: Browser, server: ServeProcess, service: str, layout: str, state: str
) -> None:
    context = browser.new_context(color_scheme="dark", viewport=NARROW)
    page = context.new_page()
    try:
        open_state(page, server.url, View(service, layout, "ru", state))
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 18, 18)"  # the dark palette is in use
        assert axe_violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_refusal_fits_the_compact_frame(
    browser: Browser, server: ServeProcess, language: str
) -> None:
    context, page = new_page(browser, {"width": 320, "height": COMPACT_HEIGHT})
    try:
        page.goto(f"{server.url}/w/q3?layout=compact&lang={language}")
        page.locator("#r4").check()
        page.locator('input[name="token"]').evaluate("e => e.value = 'forged'")
        with page.expect_navigation():
            page.locator("button[type=submit]").click()
        assert page.locator("html").get_attribute("lang") == language
        scroll, client = box_heights(page)
        assert scroll <= client == COMPACT_HEIGHT, f"{scroll - client}px overflow"
        assert page.locator("a").count() == 1  # back to the form
    finally:
        context.close()
