"""`collector dead-letters list|replay`: every shard's dead letters, and sending them
back to their streams once their cause is fixed (collector/dead_letters.py)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TextIO

from redis.exceptions import RedisError

from collector.dead_letters import DeadLetters
from collector.local_days import iso_utc
from collector.privacy_commands import with_redis
from collector.redis_clients import flusher_client
from collector.service_commands import CommandError
from collector.settings import Settings


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dead_letters = commands.add_parser(
        "dead-letters", help="list the dead letters, or send them back to their streams"
    )
    actions = dead_letters.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="one line per dead letter, with its reason")
    replay = actions.add_parser(
        "replay", help="send dead letters back to their streams, for the flushers to store"
    )
    for action in (listing, replay):
        action.add_argument(
            "--reason",
            default="",
            metavar="TEXT",
            help="only the dead letters whose reason contains TEXT (default: all)",
        )


def run(arguments: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Run `dead-letters list` or `dead-letters replay`."""
    return asyncio.run(_run(with_redis(settings, "dead-letters"), arguments, out))


async def _run(settings: Settings, arguments: argparse.Namespace, out: TextIO) -> int:
    redis = flusher_client(settings.redis_url, 0, settings.redis_cluster)
    letters = DeadLetters(redis, settings.redis_shards)
    try:
        if arguments.action == "list":
            async for letter in letters.read(arguments.reason):
                print(
                    f"shard {letter.shard} entry {letter.entry_id} dead at "
                    f"{iso_utc(letter.dead_at)}: {letter.reason}",
                    file=out,
                )
        else:
            moved = await letters.replay(arguments.reason)
            shards = ", ".join(f"shard {shard}: {count}" for shard, count in enumerate(moved))
            print(f"sent {sum(moved)} dead letters back to their streams ({shards})", file=out)
    except (RedisError, OSError) as error:
        raise CommandError(f"Redis did not answer: {error}") from None
    finally:
        await redis.aclose()
    return 0
