"""The stream's backlog as the fault tests watch it: what waits, what is held, what died."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from collector import keys
from tests.helpers import StreamEntries


class Backlog:
    """A read-only view of the rating stream and its consumer group."""

    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url, protocol=3, socket_timeout=5)

    async def close(self) -> None:
        await self._redis.aclose()

    async def pending(self) -> int:
        """Entries read by a flusher but not acknowledged."""
        summary = await self._redis.xpending(keys.STREAM, keys.FLUSHER_GROUP)
        return int(summary["pending"])

    async def lag(self) -> int:
        """Entries no flusher has read yet."""
        try:
            groups = await self._redis.xinfo_groups(keys.STREAM)
        except ResponseError:  # no stream yet
            return 0
        return sum(int(group.get("lag") or 0) for group in groups)

    async def drained(self) -> bool:
        return await self.lag() == 0 and await self.pending() == 0

    async def dead_letters(self) -> int:
        return int(await self._redis.xlen(keys.DEAD_LETTERS))

    async def consumer_idle_milliseconds(self, consumer: str) -> int | None:
        """Milliseconds since `consumer` last talked to the group; None if unknown."""
        try:
            consumers = await self._redis.xinfo_consumers(keys.STREAM, keys.FLUSHER_GROUP)
        except ResponseError:
            return None
        for entry in consumers:
            if entry["name"] == consumer.encode():
                return int(entry["idle"])
        return None

    async def held_rating_ids(self, consumer: str | None = None) -> list[str]:
        """The rating ids read and not acknowledged (by `consumer`, if given)."""
        held = await self._redis.xpending_range(
            keys.STREAM, keys.FLUSHER_GROUP, "-", "+", 100_000, consumername=consumer
        )
        ids: list[str] = []
        for item in held:
            entry_id = item["message_id"]
            entries = cast(StreamEntries, await self._redis.xrange(keys.STREAM, entry_id, entry_id))
            for _, fields in entries:
                event: dict[str, Any] = msgspec.json.decode(fields[b"e"])
                ids.append(str(event["id"]))
        return ids
