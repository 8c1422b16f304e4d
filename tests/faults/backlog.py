"""The streams' backlog as the fault tests watch it: what waits, what is held, what died.

Summed over every shard's stream, on one server or on a Redis Cluster.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec
from redis.exceptions import ResponseError

from collector import keys
from collector.redis_clients import flusher_client
from tests.helpers import StreamEntries


class Backlog:
    """A read-only view of the rating streams and their consumer groups."""

    def __init__(self, url: str, *, cluster: bool = False, shards: int = 1) -> None:
        self._redis = flusher_client(url, 0, cluster)
        self._streams = [keys.stream(shard) for shard in range(shards)]

    async def close(self) -> None:
        await self._redis.aclose()

    async def pending(self) -> int:
        """Entries read by a flusher but not acknowledged."""
        total = 0
        for stream in self._streams:
            total += int((await self._redis.xpending(stream, keys.FLUSHER_GROUP))["pending"])
        return total

    async def lag(self) -> int:
        """Entries no flusher has read yet."""
        total = 0
        for stream in self._streams:
            try:
                groups = await self._redis.xinfo_groups(stream)
            except ResponseError:  # no stream yet
                continue
            total += sum(int(group.get("lag") or 0) for group in groups)
        return total

    async def drained(self) -> bool:
        return await self.lag() == 0 and await self.pending() == 0

    async def dead_letters(self) -> int:
        lengths = [await self._redis.xlen(keys.dead_letters(s)) for s in range(len(self._streams))]
        return sum(lengths)

    async def consumer_idle_milliseconds(self, consumer: str) -> int | None:
        """Milliseconds since `consumer` last talked to a group (the most recent of
        them); None if no group knows it."""
        idle: list[int] = []
        for stream in self._streams:
            try:
                consumers = await self._redis.xinfo_consumers(stream, keys.FLUSHER_GROUP)
            except ResponseError:
                continue
            idle.extend(int(c["idle"]) for c in consumers if c["name"] == consumer.encode())
        return min(idle, default=None)

    async def held_rating_ids(self, consumer: str | None = None) -> list[str]:
        """The rating ids read and not acknowledged (by `consumer`, if given)."""
        ids: list[str] = []
        for stream in self._streams:
            held = await self._redis.xpending_range(
                stream, keys.FLUSHER_GROUP, "-", "+", 100_000, consumername=consumer
            )
            for item in held:
                entry_id = item["message_id"]
                entries = cast(StreamEntries, await self._redis.xrange(stream, entry_id, entry_id))
                for _, fields in entries:
                    event: dict[str, Any] = msgspec.json.decode(fields[b"e"])
                    ids.append(str(event["id"]))
        return ids
