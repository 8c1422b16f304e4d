"""The analysts' dashboard: server-rendered HTML with SVG charts, no script."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from collector.dashboard.pages import ROUTER

ROUTES: list[ControllerRouterHandler] = [ROUTER]
