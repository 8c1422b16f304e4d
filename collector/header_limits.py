"""Header limits: a request with absurdly many or large headers is answered 431.

uvicorn's httptools parser takes headers of any size and number (measured: a 200 KB
header and 20,000 headers were both answered 200), so the app sets its own bound. It
cannot spare the server from reading them: in production a reverse proxy's buffer
limits (nginx's large_client_header_buffers) do that; this gives the clear answer.
A browser sends about 1-2 KB in 10-20 headers; a portal's proxies add a few more.
"""

from __future__ import annotations

from collections.abc import Iterable

from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Send

from collector.security_headers import ALWAYS, STRICT_POLICY

MAXIMUM_HEADER_COUNT = 100
MAXIMUM_HEADER_BYTES = 16 * 1024


def header_problem(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """What is wrong with these request headers, or None when they are within bounds."""
    headers = headers if isinstance(headers, list) else list(headers)
    if len(headers) > MAXIMUM_HEADER_COUNT:
        return f"{len(headers)} request headers, more than {MAXIMUM_HEADER_COUNT}"
    size = sum(len(name) + len(value) for name, value in headers)
    if size > MAXIMUM_HEADER_BYTES:
        return f"{size} bytes of request headers, more than {MAXIMUM_HEADER_BYTES}"
    return None


async def refuse_oversized(send: Send, problem: str) -> None:
    """431, in plain text naming the problem; the connection is closed after it."""
    body = f"Request header fields too large: {problem}.\n".encode()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 431,
        "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *ALWAYS,
            STRICT_POLICY,
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
