"""Real headless Chromium (Debian's package) driven by Playwright, and the states of
the widget a citizen can see. Shared by the browser tests and `make screenshots`."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import axe_playwright_python  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, Playwright

from collector.services import Service, ServiceConfig
from collector.storage import open_storage

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGUMENTS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_SCRIPT = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
LANGUAGES = ("en", "ru", "hy", "ky", "uz", "kk")
STATES = ("empty", "error", "filled", "thanks")
# The tallest set for each count: "duration" has five answers and wraps the most.
QUESTION_SETS = ((), ("duration",), ("duration", "resolved"), ("duration", "resolved", "easy"))
# Long names on purpose: the fixed heights must hold for real service names.
SERVICES = [
    Service(
        slug=f"q{count}",
        tenant_id="demo",
        name="Registration of a new business at the city hall",
        config=ServiceConfig(questions=questions),  # type: ignore[arg-type]
    )
    for count, questions in enumerate(QUESTION_SETS)
]


def launch(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise RuntimeError(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGUMENTS)


def seed_services(data_dir: Path, services: list[Service] | None = None) -> None:
    """Store services (the test set by default) before `collector serve` loads them."""

    async def seed() -> None:
        storage = open_storage(f"sqlite:///{data_dir / 'collector.db'}")
        await storage.migrate()
        await storage.save_tenant("demo", "Demo agency")
        for service in SERVICES if services is None else services:
            await storage.save_service(service)
        await storage.close()

    data_dir.mkdir(parents=True, exist_ok=True)
    # Playwright's sync API keeps an event loop running in this thread.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, seed()).result()


@dataclass(frozen=True)
class View:
    service: str
    layout: str
    language: str
    state: str


def open_state(page: Page, base_url: str, view: View) -> None:
    """Bring the page to one state, the way a citizen would (no script anywhere)."""
    query = f"lang={view.language}&layout={view.layout}"
    page.goto(f"{base_url}/w/{view.service}?{query}")
    if view.state == "empty":
        return
    if view.state in ("filled", "thanks"):
        page.locator("#r4").check()  # the transparent input lies over its star
    if view.layout != "compact":
        for group in page.locator("fieldset.q").all():
            group.locator("input").last.check()
        page.locator("textarea").fill("Пришлось прийти дважды: форма не принималась онлайн.")
    if view.state in ("error", "thanks"):
        with page.expect_navigation():
            page.locator("button[type=submit]").click()


def axe_violations(page: Page) -> list[str]:
    """axe-core's violations, one line each.

    axe needs script, and a page with JavaScript disabled never runs its timers; the
    widget has no script of its own (asserted elsewhere), so the document is the same
    with JavaScript on, and axe runs there.
    """
    page.evaluate(AXE_SCRIPT)
    result: list[str] = page.evaluate(
        """axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
            v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', ')
        ))"""
    )
    return result
