"""Slow clients against a real `collector serve`: headers sent a line at a time, and
bodies a byte at a time, are cut off on every route within the deadlines set by the
settings (short here, so the test is quick; 10 s and 15 s by default)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServeProcess
from tests.helpers import bearer, eventually, run_cli

HEADER_SECONDS = 1.0
BODY_SECONDS = 1.0
BODY_GRACE = 1.0  # the widget's own 408 page comes first; other routes a second later
SLACK = 1.5  # a shared machine's pauses
GIVE_UP_SECONDS = 12.0  # far beyond every deadline: still open then is the failure
INTERVAL = 0.2  # between a slow client's lines or bytes


@pytest.fixture(scope="module")
def slow_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data_dir = tmp_path_factory.mktemp("slow") / "data"
    process = ServeProcess(
        data_dir,
        {
            "COLLECTOR_HEADER_TIMEOUT_SECONDS": str(HEADER_SECONDS),
            "COLLECTOR_BODY_TIMEOUT_SECONDS": str(BODY_SECONDS),
            "COLLECTOR_FLUSHER": "off",
        },
    )
    process.start()
    yield process
    process.kill()


def admin_token(data_dir: Path) -> str:
    result = run_cli(data_dir, "token", "--role", "admin", "--tenant", "demo")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


async def slow_client(port: int, head: bytes, pieces: Iterator[bytes]) -> tuple[float, bytes]:
    """Send head, then a piece every INTERVAL, until the server closes the connection:
    (seconds until it did, what it answered)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    answer = b""
    try:
        writer.write(head)
        while time.monotonic() - started < GIVE_UP_SECONDS:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), INTERVAL)
            except TimeoutError:
                writer.write(next(pieces))
                await writer.drain()
                continue
            if not chunk:
                break
            answer += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()
    return time.monotonic() - started, answer


def header_lines() -> Iterator[bytes]:
    number = 0
    while True:
        number += 1
        yield b"x-slow-%d: 1\r\n" % number


def single_bytes() -> Iterator[bytes]:
    while True:
        yield b"a"


ROUTES = {
    "dashboard sign-in": (b"POST", "/dashboard/sign-in", "application/x-www-form-urlencoded"),
    "admin API": (b"PUT", "/api/v1/admin/services/slow", "application/json"),
    "analytics API": (b"GET", "/api/v1/services/demo-passport/summary", "application/json"),
    "widget": (b"POST", "/w/demo-passport", "application/x-www-form-urlencoded"),
}


def request_head(method: bytes, path: str, token: str, content_type: str) -> bytes:
    return (
        b"%s %s HTTP/1.1\r\nhost: collector.test\r\nauthorization: Bearer %s\r\n"
        b"content-type: %s\r\n" % (method, path.encode(), token.encode(), content_type.encode())
    )


async def test_headers_a_line_at_a_time_are_cut_off(slow_serve: ServeProcess) -> None:
    token = admin_token(slow_serve.data_dir)
    results = await asyncio.gather(
        *(
            slow_client(slow_serve.port, request_head(method, path, token, kind), header_lines())
            for method, path, kind in ROUTES.values()
        )
    )
    for name, (seconds, answer) in zip(ROUTES, results, strict=True):
        assert HEADER_SECONDS * 0.9 < seconds < HEADER_SECONDS + SLACK, (name, seconds)
        assert answer.startswith(b"HTTP/1.1 408 "), (name, answer[:100])
    platform = run_cli(slow_serve.data_dir, "token", "--role", "platform").stdout.split()[-1]
    async with httpx.AsyncClient(base_url=slow_serve.url) as http:

        async def counted() -> bool:
            report = await http.get("/api/v1/admin/rejections", headers=bearer(platform))
            return bool(report.json()["services"].get("-") == {"slow_headers": len(ROUTES)})

        await eventually(counted)


async def test_bodies_a_byte_at_a_time_are_cut_off(slow_serve: ServeProcess) -> None:
    token = admin_token(slow_serve.data_dir)
    heads = [
        request_head(method, path, token, content_type) + b"content-length: 1000\r\n\r\n"
        for method, path, content_type in ROUTES.values()
    ]
    results = await asyncio.gather(
        *(slow_client(slow_serve.port, head, single_bytes()) for head in heads)
    )
    outcome = dict(zip(ROUTES, results, strict=True))
    for name, (seconds, answer) in outcome.items():
        assert seconds < BODY_SECONDS + BODY_GRACE + SLACK, (name, seconds, answer[:100])
    # The handlers that read the body get the 408; the analytics GET answered at once
    # without reading it, and its connection is closed all the same.
    for name in ("dashboard sign-in", "admin API", "widget"):
        assert outcome[name][1].startswith(b"HTTP/1.1 408 "), (name, outcome[name][1][:100])
    assert outcome["analytics API"][1].startswith(b"HTTP/1.1 200 ")
    # The widget's own page, translated, at BODY_SECONDS: not the plain one.
    assert b"text/html" in outcome["widget"][1]
