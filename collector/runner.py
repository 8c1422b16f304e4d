"""Running the collector: `collector serve [--workers N]` and `collector flush`.

The first process binds the socket, starts the embedded server and forks N serving
workers, which all accept on the one socket; it serves nothing itself, but restarts a
worker or the embedded server that dies (collector/supervisor.py). Only the first
worker runs the flusher, prints the banner and forgets old salts; every worker has its
own Redis and storage connections and reloads services and keys on its own.

Every serving process pushes its own widget views (impressions) to Redis; the one that
runs the flusher also runs the impression flusher, and so does `collector flush`.

Shutdown order for serve, on Ctrl-C or SIGTERM: each worker's HTTP server stops
accepting and finishes in-flight requests; each worker pushes its last views; the
flushers commit and acknowledge their batches; all of it within the worker's stop
deadline (collector/shutdown.py); once every worker has exited, the embedded Redis
server stops (fsyncing its AOF).
Anything still in the stream stays in the AOF and is flushed on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import hashlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import uvicorn

from collector.app import create_app
from collector.client_hash import forget_expired_salts_daily
from collector.dashboard.session import DEFAULT_LINK_MINUTES, sign_in_link
from collector.data_directory import database_files, make_private
from collector.embedded_redis import EmbeddedRedis
from collector.flusher import Flusher, default_consumer_name
from collector.impression_flusher import ImpressionFlusher
from collector.redis_clients import flusher_client
from collector.runtime import Runtime
from collector.sealed_secrets import sealer_for
from collector.services import DEMO_SERVICE, DEMO_TENANT_ID
from collector.settings import Settings
from collector.shutdown import REQUESTS_SECONDS, ShutdownDeadline, StoppingServer
from collector.slow_clients import deadline_protocol
from collector.snippet import iframe_snippet, widget_url
from collector.storage import Storage, StorageError, open_storage
from collector.supervisor import Supervisor

logger = logging.getLogger(__name__)

EMBEDDED_URL_FILE = "redis.url"
# How soon a running collector follows `collector service|key ...` from another
# process: a revoked signing key stops working within this many seconds. Reading two
# small tables once a second costs nothing measurable.
CONFIGURATION_RELOAD_SECONDS = 1.0
# The demo's analyst token in the start-up banner: a working day, not weeks.
DEMO_TOKEN_HOURS = 8


class DataDirectoryBusy(RuntimeError):
    pass


@contextlib.contextmanager
def data_directory_lock(data_dir: Path) -> Iterator[None]:
    """One `collector serve` per data directory: two would share one embedded server."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "collector.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirectoryBusy(
                f"another collector is serving from {data_dir.resolve()}; stop it first"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _flushers(settings: Settings, storage: Storage, consumer: str | None = None) -> list[Flusher]:
    """One flusher per shard's stream, all under one consumer name (each stream has
    its own consumer group); each has its own client, as its blocking read holds one."""
    return [_flusher(settings, storage, consumer, shard) for shard in range(settings.redis_shards)]


def _flusher(settings: Settings, storage: Storage, consumer: str | None, shard: int) -> Flusher:
    return Flusher(
        flusher_client(
            settings.redis_url, settings.flush_block_milliseconds, settings.redis_cluster
        ),
        storage,
        shard=shard,
        consumer=consumer,
        batch_size=settings.flush_batch_size,
        block_milliseconds=settings.flush_block_milliseconds,
        max_deliveries=settings.flush_max_deliveries,
        claim_idle_milliseconds=settings.flush_claim_idle_seconds * 1000,
    )


def print_banner(settings: Settings, runtime: Runtime, out: TextIO) -> None:
    """What a new user needs, one item per line: widget URL, snippet, an analyst token
    and a dashboard sign-in link. The banner ends up in logs (journald, a terminal's
    scrollback), so the token lives a working day and the link works once, briefly."""
    public = settings.effective_public_url
    service = runtime.services.get(DEMO_SERVICE.slug)
    if service is not None:
        lifetime = DEMO_TOKEN_HOURS * 3600
        token = runtime.analyst_tokens.issue(DEMO_TENANT_ID, lifetime_seconds=lifetime)
        link = sign_in_link(
            public, runtime.analyst_tokens, DEMO_TENANT_ID, "analyst", DEFAULT_LINK_MINUTES
        )
        print(f"Widget URL: {widget_url(public, service)}", file=out)
        print(f"Iframe snippet: {iframe_snippet(public, service)}", file=out)
        print(
            f"Analyst token (tenant {DEMO_TENANT_ID}, {DEMO_TOKEN_HOURS} hours): {token}",
            file=out,
        )
        print(
            f"Try: curl -H 'Authorization: Bearer {token}' "
            f"{public}/api/v1/services/{service.slug}/summary",
            file=out,
        )
        print(
            f"Dashboard sign-in link (works once, within {DEFAULT_LINK_MINUTES} minutes): {link}",
            file=out,
        )
    print(f"Collector listening on {public}", file=out, flush=True)


def serve_consumer_name(settings: Settings) -> str:
    """Stable across restarts of one `collector serve` (one per data directory and
    host), so that on start it drains what it had read but not acknowledged."""
    where = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:8]
    return f"serve-{socket.gethostname()}-{where}"


async def _serve(settings: Settings, out: TextIO, embedded: bool, listening: socket.socket) -> None:
    deadline = ShutdownDeadline(settings.stop_timeout_seconds)
    runtime = await Runtime.open(settings)
    flusher_tasks: list[asyncio.Task[None]] = []
    flushers: list[Flusher] = []
    forgetting: asyncio.Task[None] | None = None
    reloading: asyncio.Task[None] | None = None
    counting = asyncio.create_task(runtime.impressions.run(), name="impression counter")
    spool = runtime.spool
    replaying = None
    if spool is not None:
        replaying = asyncio.create_task(spool.run(runtime.buffer, runtime.redis), name="spool")
    impression_flusher: ImpressionFlusher | None = None
    impression_flushing: asyncio.Task[None] | None = None
    try:
        if settings.run_flusher:
            flushers = _flushers(settings, runtime.storage, serve_consumer_name(settings))
            flusher_tasks = [
                asyncio.create_task(flusher.run(), name=f"flusher of shard {flusher.shard}")
                for flusher in flushers
            ]
            impression_flusher = ImpressionFlusher(runtime.redis, runtime.storage)
            impression_flushing = asyncio.create_task(
                impression_flusher.run(), name="impression flusher"
            )
        if embedded:
            forgetting = asyncio.create_task(forget_expired_salts_daily(runtime.redis))
        reloading = asyncio.create_task(_reload_configuration_periodically(runtime))
        server = StoppingServer(_server_config(settings, create_app(runtime), runtime), deadline)
        global _serving
        _serving = server  # from here on a stop signal shuts the server down gracefully
        print_banner(settings, runtime, out)
        # Everything built so far (templates, the app, regexes) lives as long as the
        # process: keep it out of the cyclic GC's full collections, which otherwise
        # walked all of it and paused requests for tens of milliseconds (p99 at half
        # the peak POST rate: 64 ms before, 26 ms after, on this machine).
        gc.collect()
        gc.freeze()
        await server.serve(sockets=[listening])
    finally:
        for task in (reloading, forgetting):
            if task is not None:
                task.cancel()
        loops = [("impression counter", runtime.impressions.stop, counting)]
        if spool is not None and replaying is not None:
            loops.append(("spool replay", spool.stop, replaying))
        if impression_flusher is not None and impression_flushing is not None:
            loops.append(("impression flusher", impression_flusher.stop, impression_flushing))
        for flusher, flusher_task in zip(flushers, flusher_tasks, strict=True):
            loops.append((f"flusher of shard {flusher.shard}", flusher.stop, flusher_task))
        await deadline.stop(loops)
        await deadline.finish(_close(flushers, runtime), "closing connections")


async def _close(flushers: list[Flusher], runtime: Runtime) -> None:
    for flusher in flushers:
        await flusher.close()
    await runtime.close()


async def _reload_configuration_periodically(runtime: Runtime) -> None:
    """`collector service|key ...` write to storage; serving processes follow."""
    while True:
        await asyncio.sleep(CONFIGURATION_RELOAD_SECONDS)
        try:
            await runtime.reload()
        except StorageError as error:
            logger.warning("could not reload services and keys: %s", error)


_serving: StoppingServer | None = None


def _on_stop_signal(signal_number: int, frame: object) -> None:
    """Before the HTTP server exists, Ctrl-C or SIGTERM stops the start-up. Once it
    exists, they ask it to shut down gracefully: uvicorn installs its own handler only
    when serve() starts (a signal just after the banner was ignored, and the collector
    ran on), and it re-raises the signal once it has shut down, when we only want to
    finish our own shutdown, not die before stopping the embedded server."""
    if _serving is None:
        raise SystemExit(0)
    _serving.deadline.begin()
    _serving.should_exit = True


async def _migrate(settings: Settings) -> None:
    """Once, before workers start: SQLite refuses a switch to WAL while another
    connection holds a lock, so workers migrating together would fail."""
    storage = open_storage(settings.effective_database_url, sealer_for(settings))
    try:
        await storage.migrate()
    finally:
        await storage.close()


def _server_config(
    settings: Settings, app: object = None, runtime: Runtime | None = None
) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]  # None only to bind the socket
        host=settings.host,
        port=settings.port,
        loop="none",
        # httptools, with deadlines for slow headers and bodies (slowloris).
        http=deadline_protocol(
            settings.header_timeout_seconds,
            settings.body_timeout_seconds,
            runtime.rejections if runtime else None,
        ),
        lifespan="on",
        access_log=False,  # an access log would write client IP addresses
        # The widget reads X-Forwarded-For itself (collector/forwarded.py): uvicorn's
        # middleware parsed every hop of every request, a tenth of a POST's time.
        proxy_headers=False,
        log_config=None,
        server_header=False,
        # Within the worker's stop deadline (collector/shutdown.py).
        timeout_graceful_shutdown=min(REQUESTS_SECONDS, settings.stop_timeout_seconds),
    )


def _bind(settings: Settings) -> socket.socket:
    """Bind and listen before saying "listening": a client that connects at once waits
    in the backlog instead of being refused. Forked workers inherit this socket."""
    config = _server_config(settings)
    listening = config.bind_socket()
    listening.listen(config.backlog)  # bind_socket() binds but does not listen
    return listening


def serve(settings: Settings, out: TextIO, workers: int = 1) -> None:
    """Run the collector in the foreground until Ctrl-C or SIGTERM.

    Raises SupervisionGaveUp if a worker or the embedded server kept dying.
    """
    import uvloop

    make_private(settings.data_dir, *database_files(settings.effective_database_url))
    settings = settings.with_secret()
    with data_directory_lock(settings.data_dir):
        embedded: EmbeddedRedis | None = None
        url_file = settings.data_dir / EMBEDDED_URL_FILE
        try:
            if not settings.redis_url:
                embedded = EmbeddedRedis(
                    settings.data_dir / "redis",
                    settings.embedded_redis_port,
                    appendfsync=settings.embedded_redis_appendfsync,
                    password=settings.derived_key("embedded redis password"),
                )
                settings = replace(settings, redis_url=embedded.start())
                # For `collector flush` on the same data directory; it holds the password.
                descriptor = os.open(url_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                    handle.write(settings.redis_url + "\n")
            signal.signal(signal.SIGTERM, _on_stop_signal)
            signal.signal(signal.SIGINT, _on_stop_signal)
            uvloop.run(_migrate(settings))
            listening = _bind(settings)

            def worker_main(slot: int, first_start: bool) -> None:
                _work(settings, out, listening, slot, first_start, embedded is not None)

            supervisor = Supervisor(
                workers, worker_main, listening, embedded, settings.stop_timeout_seconds
            )
            supervisor.run()
        finally:
            if embedded is not None:
                url_file.unlink(missing_ok=True)
                embedded.stop()


def _work(
    settings: Settings,
    out: TextIO,
    listening: socket.socket,
    slot: int,
    first_start: bool,
    embedded: bool,
) -> None:
    """One serving process (a forked child of the supervisor). The first slot also runs
    the flusher and the daily salt clean-up, and prints the banner when it first starts."""
    import uvloop

    first = slot == 0
    worker_settings = settings if first else replace(settings, run_flusher=False)
    with open(os.devnull, "w") as quiet:
        banner_to = out if first and first_start else quiet
        uvloop.run(_serve(worker_settings, banner_to, embedded and first, listening))


def flush_consumer_names(base: str, concurrency: int) -> list[str]:
    """One stable name per consumer, so a restart drains each one's own pending entries."""
    if concurrency == 1:
        return [base]
    return [f"{base}-{number}" for number in range(1, concurrency + 1)]


async def _flush(settings: Settings, concurrency: int) -> None:
    storage = open_storage(settings.effective_database_url)
    await storage.migrate()
    base = os.environ.get("FLUSH_CONSUMER") or default_consumer_name()
    flushers = [
        flusher
        for name in flush_consumer_names(base, concurrency)
        for flusher in _flushers(settings, storage, name)
    ]
    impression_redis = flusher_client(settings.redis_url, 0, settings.redis_cluster)
    impression_flusher = ImpressionFlusher(impression_redis, storage)

    def stop() -> None:
        for flusher in flushers:
            flusher.stop()
        impression_flusher.stop()

    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop)
    logger.info(
        "%s: flushing; SIGTERM stops after the current batch",
        ", ".join(flusher.consumer for flusher in flushers),
    )
    try:
        # Every loop handles its own errors and returns only once stopped.
        await asyncio.gather(*(flusher.run() for flusher in flushers), impression_flusher.run())
    finally:
        for flusher in flushers:
            await flusher.close()
        await impression_redis.aclose()
        await storage.close()


def flush(settings: Settings, concurrency: int = 1) -> None:
    """Run a standalone flusher (`concurrency` consumers) until Ctrl-C or SIGTERM.

    Without REDIS_URL it uses the embedded server of a `collector serve` running on
    the same data directory.
    """
    import uvloop

    if not settings.redis_url:
        url_file = settings.data_dir / EMBEDDED_URL_FILE
        if not url_file.exists():
            raise SystemExit(
                "collector flush: set REDIS_URL, or start `collector serve` on this data "
                f"directory first ({url_file} not found)"
            )
        settings = replace(settings, redis_url=url_file.read_text(encoding="ascii").strip())
    uvloop.run(_flush(settings, concurrency))
