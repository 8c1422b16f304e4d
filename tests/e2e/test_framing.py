"""Framing in real Chromium: a portal on an allowed origin shows the widget, any other
origin does not (CSP frame-ancestors)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from collector.services import Service, ServiceConfig
from tests.e2e.browser import seed_services
from tests.e2e.conftest import ServeProcess


class PortalPage:
    """A minimal "done" page of a portal, on its own origin, embedding the widget."""

    def __init__(self, widget_url: str) -> None:
        page = f'<!doctype html><title>Done</title><iframe src="{widget_url}" title="Rate">'
        body = page.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def portals(tmp_path: Path) -> Iterator[tuple[ServeProcess, PortalPage, PortalPage]]:
    data_dir = tmp_path / "data"
    collector = ServeProcess(data_dir)
    allowed = PortalPage(f"{collector.url}/w/framed")
    other = PortalPage(f"{collector.url}/w/framed")
    config = ServiceConfig(allowed_origins=(allowed.origin,))
    seed_services(data_dir, [Service(slug="framed", tenant_id="demo", name="F", config=config)])
    collector.start()
    yield collector, allowed, other
    collector.kill()
    allowed.close()
    other.close()


def test_only_allowed_origins_can_frame_the_widget(
    browser: Browser, portals: tuple[ServeProcess, PortalPage, PortalPage]
) -> None:
    _, allowed, other = portals
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(allowed.origin)
        widget = page.frame_locator("iframe")
        assert widget.locator("form").count() == 1
        assert widget.locator('input[name="rating"]').count() == 5

        page.goto(other.origin)  # waits for the load event, which includes the frame
        assert page.frame_locator("iframe").locator("form").count() == 0
    finally:
        context.close()
