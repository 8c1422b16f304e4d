"""`collector serve --workers 2`: two processes on one socket, one flusher, one stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.e2e.conftest import TOKEN_PATTERN, ServeProcess
from tests.e2e.test_serve import wait_for_count


def serving_children(pid: int) -> list[int]:
    """Child processes running the collector (not the embedded valkey-server)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"valkey" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def process_exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def test_two_workers_serve_flush_and_stop_together(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data", arguments=("--workers", "2"))
    try:
        serve.start()
        assert serve.process is not None
        [worker] = serving_children(serve.process.pid)

        async def rate(number: int, http: httpx.AsyncClient) -> int:
            form = await http.get("/w/demo-passport")
            token = TOKEN_PATTERN.search(form.text)
            assert token
            response = await http.post(
                "/w/demo-passport",
                data={"token": token.group(1), "rating": str(number % 5 + 1)},
                # Citizens of their own, so that the rate limit per client does not bite.
                headers={"x-forwarded-for": f"198.51.100.{number}"},
            )
            return response.status_code

        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=serve.url, limits=limits) as http:
            statuses = await asyncio.gather(*(rate(n, http) for n in range(100)))
            assert statuses == [303] * 100
            await wait_for_count(http, serve.analyst_token, 100)
        assert serve.terminate() == 0
        assert not process_exists(worker)
    finally:
        serve.kill()
