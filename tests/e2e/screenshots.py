"""`make screenshots`: a PNG of every layout x language x state, for review, and of
the dashboard (overview and a service page, wide and phone-sized) over a year of
made-up ratings.

Usage: python -m tests.e2e.screenshots [FOLDER]   (default: screenshots/)
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from playwright.sync_api import Browser, ViewportSize, sync_playwright

from collector.messages import StoredRating
from collector.pages import COMPACT_HEIGHT, FULL_HEIGHT_BY_QUESTIONS
from collector.questions import QUESTIONS
from collector.services import DEMO_SERVICE, Service, ServiceConfig
from collector.storage import open_storage
from tests.e2e.browser import LANGUAGES, STATES, View, launch, open_state, seed_services
from tests.e2e.conftest import ServeProcess
from tests.helpers import DAY, stored_rating

# The demo-like service with three questions, in each layout, at phone width.
VIEWS = {
    "compact": ("q3", {"width": 320, "height": COMPACT_HEIGHT}),
    "full": ("q3", {"width": 360, "height": FULL_HEIGHT_BY_QUESTIONS[3]}),
    "page": ("q3", {"width": 480, "height": 900}),
}


# The dashboard's services: (service, how its stars lean, ratings a day).
DASHBOARD_SERVICES = [
    (DEMO_SERVICE, (4, 5, 10, 30, 51), 4.0),
    (
        Service(
            slug="business-registration",
            tenant_id="demo",
            name="Registration of a new business",
            config=ServiceConfig(questions=("easy", "staff_helpful")),
        ),
        (10, 10, 20, 30, 30),
        2.5,
    ),
    (
        Service(slug="building-permits", tenant_id="demo", name="Building permits"),
        (30, 20, 20, 15, 15),
        1.2,
    ),
    (
        Service(slug="kindergarten", tenant_id="demo", name="Kindergarten enrolment"),
        (2, 3, 10, 35, 50),
        0.02,
    ),
]
# Comments a citizen might write, by language: problems for 1 to 3 stars, praise above.
PROBLEMS = {
    "en": [
        "Had to come twice: the online form would not accept my scan.",
        "Nobody answered the phone for three days.",
        "The instructions on the website were out of date.",
    ],
    "ru": [
        "Пришлось прийти дважды: форма не принималась онлайн.",
        "Очередь два часа, работало одно окно.",
    ],
    "hy": ["Հերթը շատ երկար էր։"],  # noqa: RUF001 (the Armenian full stop)
    "kk": ["Кезек өте ұзақ болды."],
    "ky": ["Кезек өтө узун болду."],
    "uz": ["Navbat juda uzun edi."],
}
PRAISE = {
    "en": ["Quick and clear, thank you.", "The staff were kind and explained everything."],
    "ru": ["Всё быстро и понятно, спасибо.", "Сотрудники вежливые, всё объяснили."],
    "hy": ["Ամեն ինչ արագ էր, շնորհակալություն։"],  # noqa: RUF001 (the Armenian full stop)
    "kk": ["Бәрі тез әрі түсінікті болды, рахмет."],
    "ky": ["Баары тез болду, рахмат."],
    "uz": ["Hammasi tez bo'ldi, rahmat."],
}
LANGUAGE_WEIGHTS = {"en": 20, "ru": 45, "hy": 15, "kk": 8, "ky": 7, "uz": 5}
DEVICE_WEIGHTS = {"mobile": 62, "desktop": 30, "tablet": 8}
DASHBOARD_VIEWS: dict[str, ViewportSize] = {
    "1280": {"width": 1280, "height": 900},
    "390": {"width": 390, "height": 844},
}


def pick(chance: random.Random, weights: dict[str, int]) -> str:
    return chance.choices(list(weights), list(weights.values()))[0]


def year_of_ratings(now: int) -> tuple[list[StoredRating], list[tuple[str, int, int]]]:
    """A year of ratings and widget views, the same every run."""
    chance = random.Random(2026)
    ratings: list[StoredRating] = []
    views: list[tuple[str, int, int]] = []
    for service, weights, per_day in DASHBOARD_SERVICES:
        for day in range(365):
            at = now - day * DAY
            count = sum(1 for _ in range(12) if chance.random() < per_day / 12)
            views.append((service.slug, at - at % (15 * 60_000), count * 3 + 1))
            for _ in range(count):
                stars = chance.choices(range(1, 6), weights)[0]
                language = pick(chance, LANGUAGE_WEIGHTS)
                with_comment = chance.random() < (0.6 if stars <= 2 else 0.15)
                # The first answer is the happy one (agree, yes, under an hour).
                answers = {
                    question: QUESTIONS[question][0 if chance.random() < stars / 5 else -1]
                    for question in service.config.questions
                    if chance.random() < 0.7
                }
                ratings.append(
                    stored_rating(
                        len(ratings),
                        stars,
                        at - chance.randrange(DAY),
                        service=service.slug,
                        language=language,
                        comment=chance.choice((PROBLEMS if stars <= 3 else PRAISE)[language])
                        if with_comment
                        else "",
                        device_class=pick(chance, DEVICE_WEIGHTS),
                        answers=answers,
                    )
                )
    return ratings, views


def seed_dashboard(data_dir: Path) -> None:
    seed_services(data_dir, [service for service, _, _ in DASHBOARD_SERVICES])
    ratings, views = year_of_ratings(int(time.time() * 1000))

    async def store() -> None:
        storage = open_storage(f"sqlite:///{data_dir / 'collector.db'}")
        await storage.store(ratings)
        await storage.store_impressions("screenshots", views)
        await storage.close()

    # Playwright's sync API keeps an event loop running in this thread.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, store()).result()


def dashboard_screenshots(browser: Browser, folder: Path) -> int:
    """The overview and the busiest service's page, signed in through the form."""
    data_dir = Path(tempfile.mkdtemp(prefix="screenshots-dashboard-")) / "data"
    seed_dashboard(data_dir)
    server = ServeProcess(data_dir)
    server.start()
    written = 0
    try:
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(f"{server.url}/dashboard/sign-in")
        page.get_by_label("Analyst token").fill(server.analyst_token)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        for width, viewport in DASHBOARD_VIEWS.items():
            page.set_viewport_size(viewport)
            for name, path in (
                ("overview", "/dashboard"),
                ("service", f"/dashboard/services/{DEMO_SERVICE.slug}"),
            ):
                page.goto(f"{server.url}{path}")
                page.screenshot(path=folder / f"dashboard-{name}-{width}.png", full_page=True)
                written += 1
        context.close()
    finally:
        server.kill()
    return written


def main(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="screenshots-")) / "data"
    seed_services(data_dir)
    server = ServeProcess(data_dir, {"COLLECTOR_RATE_LIMIT_PER_MINUTE": "1000000"})
    server.start()
    written = 0
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            for layout, (service, viewport) in VIEWS.items():
                for language in LANGUAGES:
                    for state in STATES:
                        context = browser.new_context(
                            java_script_enabled=False,
                            viewport=viewport,  # type: ignore[arg-type]
                        )
                        page = context.new_page()
                        open_state(page, server.url, View(service, layout, language, state))
                        page.screenshot(path=folder / f"{layout}-{language}-{state}.png")
                        context.close()
                        written += 1
            written += dashboard_screenshots(browser, folder)
            browser.close()
    finally:
        server.kill()
    print(f"{written} screenshots in {folder}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")))
