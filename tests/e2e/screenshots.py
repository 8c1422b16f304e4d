"""`make screenshots`: a PNG of every layout x language x state, for review.

Usage: python -m tests.e2e.screenshots [FOLDER]   (default: screenshots/)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from collector.pages import COMPACT_HEIGHT, FULL_HEIGHT_BY_QUESTIONS
from tests.e2e.browser import LANGUAGES, STATES, View, launch, open_state, seed_services
from tests.e2e.conftest import ServeProcess

# The demo-like service with three questions, in each layout, at phone width.
VIEWS = {
    "compact": ("q3", {"width": 320, "height": COMPACT_HEIGHT}),
    "full": ("q3", {"width": 360, "height": FULL_HEIGHT_BY_QUESTIONS[3]}),
    "page": ("q3", {"width": 480, "height": 900}),
}


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
            browser.close()
    finally:
        server.kill()
    print(f"{written} screenshots in {folder}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")))
