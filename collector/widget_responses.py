"""The widget's responses: its pages with their Content-Security-Policy, and bare
bodies, written straight to ASGI (the hot path does not go through Litestar)."""

from __future__ import annotations

from collections.abc import Iterable

from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, HTTPScope, Send

from collector import security_headers
from collector.pages import Page
from collector.services import Service

_COMMON_HEADERS: list[tuple[bytes, bytes]] = [
    (b"cache-control", b"no-store"),
    *security_headers.ALWAYS,
]


class WidgetResponses:
    """Sends the widget's responses; keeps each page's policy once built."""

    def __init__(self) -> None:
        self._policies: dict[tuple[str, tuple[str, ...] | None], bytes] = {}

    def policy(self, style_source: str, service: Service | None) -> bytes:
        """The page's CSP; frame-ancestors: the service's origins, 'none' if unknown."""
        # Keyed by the origins as stored: frame_ancestors checks each, once per policy.
        key = (style_source, service.config.allowed_origins if service else None)
        policy = self._policies.get(key)
        if policy is None:
            ancestors = service.config.frame_ancestors if service else "'none'"
            policy = self._policies[key] = (
                "default-src 'none'; "
                f"style-src {style_source}; "
                f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
            ).encode()
        return policy

    async def page(
        self,
        send: Send,
        scope: HTTPScope,
        status: int,
        page: Page,
        extra_headers: Iterable[tuple[bytes, bytes]] = (),
        *,
        service: Service | None,
    ) -> None:
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-security-policy", self.policy(page.style_source, service)),
            *extra_headers,
        ]
        await self.raw(send, scope, status, page.body, headers)

    async def raw(
        self,
        send: Send,
        scope: HTTPScope,
        status: int,
        body: bytes,
        extra_headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        headers = [*_COMMON_HEADERS, *extra_headers]
        headers.append((b"content-length", str(len(body)).encode()))
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": status,
            "headers": headers,
        }
        await send(start)
        end: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": b"" if scope["method"] == "HEAD" else body,
            "more_body": False,
        }
        await send(end)
