"""`collector serve` as the fault tests run it: a known secret (the load signs its own
form tokens), no rate limits in the way of a load from one address."""

from __future__ import annotations

from pathlib import Path

import httpx

from collector.runner import EMBEDDED_URL_FILE
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import ServeProcess

FAULT_ENVIRONMENT = {
    "COLLECTOR_SECRET": TEST_SECRET,
    "COLLECTOR_RATE_LIMIT_PER_MINUTE": "1000000",
    "COLLECTOR_SERVICE_RATE_LIMIT_PER_MINUTE": "100000000",
}


def start_serve(data_dir: Path, **environment: str) -> ServeProcess:
    """A started `collector serve` on `data_dir`; the caller kills it in `finally`."""
    serve = ServeProcess(data_dir, {**FAULT_ENVIRONMENT, **environment})
    serve.start()
    return serve


def embedded_redis_url(data_dir: Path) -> str:
    """The URL (with its password) of the embedded server of a running serve."""
    return (data_dir / EMBEDDED_URL_FILE).read_text(encoding="ascii").strip()


async def readiness(url: str) -> int:
    """/health/ready's status: 200 when Redis and storage both answer."""
    # Past the hot path client's timeouts and retries against a paused server.
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return (await http.get("/health/ready")).status_code
