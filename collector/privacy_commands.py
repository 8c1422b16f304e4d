"""`collector purge` (comments past their service's retention period, for a daily
timer) and `collector erase` (a portal transaction's rating, on a citizen's request)."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace
from typing import TextIO

from collector.cli_options import seconds
from collector.erasure import check_reference, erase_transaction
from collector.errors import BadRequest, ServiceUnavailable
from collector.local_days import iso_utc
from collector.redis_clients import flusher_client
from collector.service_commands import CommandError
from collector.services import Service
from collector.settings import Settings
from collector.storage import Storage, open_storage

_DAY_MILLISECONDS = 86_400_000
# Comments blanked per transaction: each batch holds SQLite's write lock for a few
# milliseconds, so the flusher's batches go on between them during a long first purge.
PURGE_BATCH = 1000


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    purge = commands.add_parser(
        "purge", help="blank comments older than their service's retention_days (run daily)"
    )
    purge.add_argument("--service", help="one service's slug (default: every service)")
    purge.add_argument(
        "--dry-run", action="store_true", help="count what would be purged, change nothing"
    )
    erase = commands.add_parser(
        "erase", help="erase a portal transaction's rating from Redis and storage"
    )
    erase.add_argument("--service", required=True, help="the service's slug")
    erase.add_argument("--transaction", required=True, help="the portal's transaction reference")
    erase.add_argument(
        "--wait",
        type=seconds(0, 3600),
        default=90.0,
        metavar="SECONDS",
        help="how long to wait for a flusher that holds the rating (default 90: longer "
        "than FLUSH_CLAIM_IDLE_SECONDS, after which another flusher releases it)",
    )


def run(arguments: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Run `purge` or `erase`; problems the operator can fix raise CommandError."""
    if arguments.command == "purge":
        return asyncio.run(_purge(settings, arguments.service, arguments.dry_run, out))
    try:
        check_reference(arguments.transaction)
    except BadRequest as error:
        raise CommandError(error.detail) from None
    return asyncio.run(_erase(with_redis(settings, "erase"), arguments, out))


async def _purge(settings: Settings, slug: str | None, dry_run: bool, out: TextIO) -> int:
    storage = open_storage(settings.effective_database_url)
    try:
        await storage.migrate()
        services = await _services(storage, slug)
        now = int(time.time() * 1000)
        for service in services:
            days = service.config.retention_days
            cutoff = now - days * _DAY_MILLISECONDS
            if dry_run:
                count, verb = await storage.count_comments(service.slug, cutoff), "would purge"
            else:
                count, verb = await purge_service(storage, service.slug, cutoff), "purged"
            print(
                f"{service.slug}: {verb} {count} of the comments received before "
                f"{iso_utc(cutoff)[:16]}Z (retention {days} days)",
                file=out,
            )
    finally:
        await storage.close()
    return 0


async def purge_service(storage: Storage, slug: str, cutoff: int) -> int:
    """Blank the service's comments received before the cutoff, a batch at a time."""
    total = 0
    while True:
        count = await storage.purge_comments(slug, cutoff, PURGE_BATCH)
        total += count
        if count < PURGE_BATCH:
            return total


async def _services(storage: Storage, slug: str | None) -> list[Service]:
    services = await storage.list_services()
    if slug is None:
        return services
    chosen = [service for service in services if service.slug == slug]
    if not chosen:
        raise CommandError(f"no service {slug!r}")
    return chosen


def with_redis(settings: Settings, command: str) -> Settings:
    """REDIS_URL, or the embedded server of the `collector serve` on this data directory:
    an unflushed rating (or a dead letter) is in Redis, so `command` cannot go without."""
    if settings.redis_url:
        return settings
    from collector.runner import EMBEDDED_URL_FILE  # the server stack, only here

    url_file = settings.data_dir / EMBEDDED_URL_FILE
    if not url_file.exists():
        raise CommandError(
            f"{command} needs Redis: set REDIS_URL, or start `collector serve` on this data "
            f"directory first ({url_file} not found)"
        )
    return replace(settings, redis_url=url_file.read_text(encoding="ascii").strip())


async def _erase(settings: Settings, arguments: argparse.Namespace, out: TextIO) -> int:
    storage = open_storage(settings.effective_database_url)
    redis = flusher_client(settings.redis_url, 0, settings.redis_cluster)
    try:
        await storage.migrate()
        await _services(storage, arguments.service)
        report = await erase_transaction(
            redis,
            storage,
            arguments.service,
            arguments.transaction,
            wait_seconds=arguments.wait,
            shards=settings.redis_shards,
        )
    except ServiceUnavailable as error:
        raise CommandError(error.detail) from None
    finally:
        await redis.aclose()
        await storage.close()
    print(
        f"transaction {arguments.transaction!r} of {arguments.service}: erased "
        f"{report.stream_entries} stream entries, {report.dead_letters} dead letters, "
        f"{report.stored_ratings} stored ratings",
        file=out,
    )
    return 0
