"""The dashboard in real headless Chromium with JavaScript off: sign in through the
form, read the overview and a service page, charts drawn, axe satisfied, phones too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from collector.messages import StoredRating
from collector.services import DEMO_SERVICE, Service
from collector.storage import open_storage
from tests.e2e.browser import axe_violations, seed_services
from tests.e2e.conftest import ServeProcess
from tests.helpers import DAY, stored_rating

WIDE: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
SERVICES = [
    DEMO_SERVICE,
    Service(slug="permits", tenant_id="demo", name="Building permits"),
]


def ratings(now: int) -> list[StoredRating]:
    """Twelve ratings over the last days: enough to rank the permits service."""
    return [
        *(
            stored_rating(n, 4 + n % 2, now - n * DAY, service="permits", comment="Clear")
            for n in range(12)
        ),
        stored_rating(20, 1, now - DAY, service="demo-passport", comment="Came twice"),
        stored_rating(21, 5, now, service="demo-passport"),
    ]


def utc_day(milliseconds: int) -> str:
    """The demo tenant's day (its zone is UTC)."""
    return datetime.fromtimestamp(milliseconds / 1000, UTC).date().isoformat()


def store(data_dir: Path, rows: list[StoredRating]) -> None:
    async def run() -> None:
        storage = open_storage(f"sqlite:///{data_dir / 'collector.db'}")
        await storage.migrate()
        await storage.store(rows)
        await storage.close()

    # Playwright's sync API keeps an event loop running in this thread.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def seeded() -> list[StoredRating]:
    """Dated by the wall clock, as the server subprocess reads it: tests compare with
    the periods the server chose, never with a day they work out themselves."""
    return ratings(int(time.time() * 1000))


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, seeded: list[StoredRating]
) -> Iterator[ServeProcess]:
    data_dir = tmp_path_factory.mktemp("dashboard") / "data"
    seed_services(data_dir, SERVICES)
    store(data_dir, seeded)
    process = ServeProcess(data_dir)
    process.start()
    yield process
    process.kill()


@pytest.fixture(scope="module")
def signed_in(browser: Browser, server: ServeProcess) -> Iterator[BrowserContext]:
    """A context without JavaScript, signed in by pasting the banner's token."""
    context = browser.new_context(java_script_enabled=False, viewport=WIDE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{server.url}/dashboard")
    assert page.url.startswith(f"{server.url}/dashboard/sign-in?next=")
    page.get_by_label("Analyst token").fill(server.analyst_token)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url == f"{server.url}/dashboard"
    [cookie] = context.cookies()
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
        True,
        "Strict",
        "/dashboard",
    )
    page.close()
    yield context
    context.close()


def open_page(context: BrowserContext, url: str, viewport: ViewportSize = WIDE) -> Page:
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.set_viewport_size(viewport)
    page.goto(url)
    return page


def test_the_overview_ranks_the_services(signed_in: BrowserContext, server: ServeProcess) -> None:
    page = open_page(signed_in, f"{server.url}/dashboard")
    try:
        assert page.locator("h1").inner_text() == "Demo agency"
        rows = page.locator("tbody tr")
        assert rows.count() == 2
        assert rows.nth(0).locator("td").nth(0).inner_text() == "1"
        assert rows.nth(0).locator("th").inner_text() == "Building permits"
        assert rows.nth(1).locator("td").nth(0).inner_text() == "not ranked"
        with page.expect_navigation():
            page.get_by_role("link", name="Building permits").click()
        assert page.locator("h1").inner_text() == "Building permits"
    finally:
        page.close()


def test_the_service_page_draws_its_charts(signed_in: BrowserContext, server: ServeProcess) -> None:
    page = open_page(signed_in, f"{server.url}/dashboard/services/demo-passport")
    try:
        assert page.locator("h1").inner_text() == "Passport renewal (demo)"
        for chart in ("Ratings per day", "Mean stars per day", "Ratings by stars"):
            image = page.get_by_role("img", name=chart)
            assert image.is_visible()
            box = image.bounding_box()
            assert box is not None
            assert box["width"] > 900
            assert box["height"] > 100
        assert page.locator("svg.columns rect.bar").count() == 2  # two days with ratings
        comments = page.locator(".comments blockquote")
        assert comments.all_inner_texts() == ["Came twice"]
    finally:
        page.close()


def test_the_period_form_works_without_script(
    signed_in: BrowserContext, server: ServeProcess, seeded: list[StoredRating]
) -> None:
    page = open_page(signed_in, f"{server.url}/dashboard")
    try:
        page.get_by_label("From").fill("2020-01-01")
        page.get_by_label("To").fill("2020-01-31")
        with page.expect_navigation():
            page.get_by_role("button", name="Show").click()
        assert page.url.endswith("/dashboard?from=2020-01-01&to=2020-01-31")
        assert page.get_by_text("No ratings in this period.").is_visible()
        with page.expect_navigation():
            page.get_by_role("link", name="Last 7 days").click()
        # The server's own week (its today may have turned since the data was made).
        query = parse_qs(urlsplit(page.url).query)
        first, last = query["from"][0], query["to"][0]
        assert date.fromisoformat(last) - date.fromisoformat(first) == timedelta(days=6)
        in_week = [
            rating
            for rating in seeded
            if rating.service == "permits" and first <= utc_day(rating.received_at) <= last
        ]
        assert len(in_week) in (6, 7)  # 7 unless a midnight fell between data and page
        shown = page.locator("tbody tr").first.locator("td").nth(2).inner_text()
        assert shown == str(len(in_week))
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280px", "390px"])
@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/services/demo-passport"])
def test_axe_finds_no_serious_violations(
    browser: Browser,
    signed_in: BrowserContext,
    server: ServeProcess,
    path: str,
    viewport: ViewportSize,
) -> None:
    """axe needs script: it runs in a context with the same session and script on
    (the pages have none of their own, asserted below)."""
    context = browser.new_context(storage_state=signed_in.storage_state(), viewport=viewport)
    page = open_page(context, f"{server.url}{path}", viewport)
    try:
        assert page.locator("script").count() == 0
        page.locator("details").evaluate_all("all => all.forEach(d => d.open = true)")
        violations = axe_violations(page)
        assert [v for v in violations if "(serious)" in v or "(critical)" in v] == []
        assert violations == []
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/services/demo-passport"])
def test_nothing_is_wider_than_a_phone(
    signed_in: BrowserContext, server: ServeProcess, path: str
) -> None:
    page = open_page(signed_in, f"{server.url}{path}", PHONE)
    try:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide"
    finally:
        page.close()


def test_no_request_leaves_the_collector(signed_in: BrowserContext, server: ServeProcess) -> None:
    page = signed_in.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(f"{server.url}/dashboard")
        page.goto(f"{server.url}/dashboard/services/permits")
        assert requested
        assert all(url.startswith(f"{server.url}/dashboard") for url in requested), requested
    finally:
        page.close()


def test_sign_out_ends_the_session(browser: Browser, server: ServeProcess) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = open_page(context, f"{server.url}/dashboard/sign-in", PHONE)
    try:
        page.get_by_label("Analyst token").fill(server.analyst_token)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        with page.expect_navigation():
            page.get_by_role("button", name="Sign out").click()
        assert page.get_by_text("You have signed out.").is_visible()
        assert context.cookies() == []
        page.goto(f"{server.url}/dashboard")
        assert "/dashboard/sign-in" in page.url
    finally:
        context.close()
