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


def start_serve(
    data_dir: Path, arguments: tuple[str, ...] = (), /, **environment: str
) -> ServeProcess:
    """A started `collector serve` on `data_dir`; the caller kills it in `finally`."""
    serve = ServeProcess(data_dir, {**FAULT_ENVIRONMENT, **environment}, arguments)
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


def _command_line(pid: int) -> bytes:
    """Empty for a process that is gone or a zombie (dead, not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def _live_children(pid: int) -> dict[int, bytes]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = {int(child): _command_line(int(child)) for child in children}
    return {child: command for child, command in found.items() if command}


def serving_workers(pid: int) -> list[int]:
    """The live serving processes `collector serve` (pid) forked: not its valkey-server."""
    return sorted(
        child for child, command in _live_children(pid).items() if b"valkey" not in command
    )


def embedded_server_pid(pid: int) -> int | None:
    """The live embedded valkey-server of `collector serve` (pid), if it has one."""
    servers = [child for child, command in _live_children(pid).items() if b"valkey" in command]
    assert len(servers) <= 1, servers
    return servers[0] if servers else None


def process_exists(pid: int) -> bool:
    """Whether `pid` exists (a zombie counts: it was not reaped)."""
    return Path(f"/proc/{pid}").exists()
