"""The data directory of a real `collector serve` is its user's only: 0700, every file in
it 0600, from the first start, and again after a restart over files an older version
left readable to everyone."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx

from tests.e2e.conftest import ServeProcess
from tests.e2e.test_serve import rate


def modes(data_dir: Path) -> dict[str, int]:
    """Every path under data_dir (itself as '.') with its permission bits."""
    found = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for path in data_dir.rglob("*"):
        found[str(path.relative_to(data_dir))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def not_private(data_dir: Path) -> dict[str, str]:
    """What is readable by others: directories not 0700, files not 0600."""
    wrong = {}
    for name, mode in modes(data_dir).items():
        wanted = 0o700 if (data_dir / name).is_dir() else 0o600
        if mode != wanted:
            wrong[name] = oct(mode)
    return wrong


async def rate_once(serve: ServeProcess) -> None:
    async with httpx.AsyncClient(base_url=serve.url) as http:
        assert (await rate(http, 5, "clear and quick")).status_code == 303


async def test_first_start_and_restart_keep_the_data_directory_private(
    serve: ServeProcess,
) -> None:
    serve.start()
    await rate_once(serve)
    running = modes(serve.data_dir)
    # What holds secrets and ratings is there, and private: while running (the SQLite
    # WAL and shared memory, the lock, the embedded server's AOF and its log)...
    for name in (
        "secret.key",
        "redis.url",
        "collector.lock",
        "collector.db",
        "collector.db-wal",
        "collector.db-shm",
        "redis/server.log",
        "redis/appendonlydir",
    ):
        assert name in running, sorted(running)
    assert any(name.endswith(".incr.aof") for name in running)
    assert not_private(serve.data_dir) == {}
    assert serve.terminate() == 0
    # ...and after it stopped.
    assert not_private(serve.data_dir) == {}

    # As an older version left them: readable by everyone.
    (serve.data_dir / "spool").mkdir(mode=0o755)
    (serve.data_dir / "spool" / "old.damaged").write_bytes(b"kept for a person")
    for path in [serve.data_dir, *serve.data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    serve.start()
    await rate_once(serve)
    assert not_private(serve.data_dir) == {}
    assert serve.terminate() == 0
    assert not_private(serve.data_dir) == {}
