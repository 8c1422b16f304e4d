"""`collector serve --workers 2`: two serving processes on one socket under one that
supervises them, one flusher, one stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.e2e.conftest import TOKEN_PATTERN, ServeProcess
from tests.e2e.test_serve import wait_for_count
from tests.faults.collector_process import process_exists, serving_workers


async def test_two_workers_serve_flush_and_stop_together(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data", arguments=("--workers", "2"))
    try:
        serve.start()
        assert serve.process is not None
        workers = serving_workers(serve.process.pid)
        assert len(workers) == 2

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
        assert not any(process_exists(worker) for worker in workers)
    finally:
        serve.kill()
