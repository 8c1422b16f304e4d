"""Slow clients: deadlines for a request's headers and body, on every route.

uvicorn waits for ever for headers sent a line at a time and for a body sent a byte
a second (measured: still open after 150 s), so a few hundred such connections hold a
worker's sockets. This HTTP protocol, uvicorn's httptools one with two deadlines,
closes them: the headers must be complete within `header_seconds` of the connection
(or, on a kept-alive one, of the request's first byte), and the body within
`body_seconds` of the headers plus a second's grace, so that the widget's own 408 page
(collector/widget_request.py, at `body_seconds`) comes first. A request that has no
answer started yet gets a plain 408; then the connection is closed. The application
sees the client as gone.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from collector.rejections import UNKNOWN_SERVICE, RejectionCounter

SLOW_HEADERS = "slow_headers"
SLOW_BODY = "slow_body"
_WIDGET_GRACE_SECONDS = 1.0
_MESSAGE = b"Request Timeout: the request did not arrive in time.\n"
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n"
    b"connection: close\r\n\r\n%s" % (len(_MESSAGE), _MESSAGE)
)


def deadline_protocol(
    header_seconds: float, body_seconds: float, rejections: RejectionCounter | None = None
) -> type[asyncio.Protocol]:
    """uvicorn's `http` protocol class with these deadlines; each connection closed
    for one is counted (under "-", reason slow_headers or slow_body)."""
    counting: set[asyncio.Task[None]] = set()  # referenced until done

    def on_timeout(reason: str) -> None:
        if rejections is not None:
            task = asyncio.get_running_loop().create_task(rejections.count(UNKNOWN_SERVICE, reason))
            counting.add(task)
            task.add_done_callback(counting.discard)

    class DeadlineProtocol(HttpToolsProtocol):
        def __init__(self, *arguments: Any, **keywords: Any) -> None:
            super().__init__(*arguments, **keywords)
            self._deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(header_seconds, SLOW_HEADERS)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._deadline is None:  # the next request on a kept-alive connection
                self._arm(header_seconds, SLOW_HEADERS)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._arm(body_seconds + _WIDGET_GRACE_SECONDS, SLOW_BODY)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, seconds: float, reason: str) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expired, reason)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self, reason: str) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            cycle = self.cycle
            if reason == SLOW_HEADERS:
                # The cycle, if any, is an earlier request's: answer only if it is done.
                answer = cycle is None or cycle.response_complete
            else:
                answer = not cycle.response_started
                if not cycle.response_complete:
                    cycle.disconnected = True  # its receive() says so; its sends are dropped
                    cycle.message_event.set()
            if answer:
                self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()
            on_timeout(reason)

    return DeadlineProtocol
