"""Keeping a shard's stream small: trimming what every group has acknowledged, and
forgetting consumers long gone. The flusher does both every few seconds.

Both are safe to run again after a lost reply: the trim finds its bound afresh, and
the script finds the consumers it removed gone.
"""

from __future__ import annotations

from collector import keys
from collector.redis_clients import RedisClient, reply_text

# A consumer that has not even polled for a day is gone (a live one polls every
# few seconds). Deleting it keeps XINFO readable as flushers come and go.
FORGET_CONSUMER_AFTER_MILLISECONDS = 86_400_000
# Atomic, so a consumer cannot read entries between the check and the delete (which
# would drop its pending entries with it).
_FORGET_IDLE_CONSUMERS = """
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
  if fields['pending'] == 0 and fields['idle'] > tonumber(ARGV[2])
      and fields['name'] ~= ARGV[3] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    removed = removed + 1
  end
end
return removed
"""


class StreamHousekeeping:
    """Trims one shard's stream and forgets its idle consumers, never `consumer`."""

    def __init__(self, redis: RedisClient, shard: int, consumer: str) -> None:
        self._redis = redis
        self._stream = keys.stream(shard)
        self._consumer = consumer
        self._forget_idle = redis.register_script(_FORGET_IDLE_CONSUMERS)

    async def trim(self) -> None:
        """Drop stream entries every group has acknowledged; never anything newer."""
        # Reads, then XTRIM MINID: run again, it finds the bound afresh.
        groups = await self._redis.xinfo_groups(self._stream)
        boundaries: list[tuple[int, int]] = []
        for group in groups:
            # XPENDING after XINFO: another flusher may have acknowledged everything in
            # between, and then there is no oldest pending entry ("min" is None).
            summary = await self._redis.xpending(self._stream, group["name"])
            if summary["pending"] and summary["min"] is not None:
                boundaries.append(_stream_id(summary["min"]))
            else:
                milliseconds, sequence = _stream_id(group["last-delivered-id"])
                boundaries.append((milliseconds, sequence + 1))
        if not boundaries:
            return
        milliseconds, sequence = min(boundaries)
        if (milliseconds, sequence) > (0, 1):
            await self._redis.xtrim(
                self._stream, minid=f"{milliseconds}-{sequence}", approximate=True
            )

    async def forget_idle_consumers(
        self, idle_milliseconds: int = FORGET_CONSUMER_AFTER_MILLISECONDS
    ) -> int:
        """Delete consumers with nothing pending that have not polled for a day."""
        # Run again, the script finds the same consumers gone, or none.
        removed = await self._forget_idle(
            keys=[self._stream], args=[keys.FLUSHER_GROUP, idle_milliseconds, self._consumer]
        )
        return int(removed)


def _stream_id(value: bytes | str) -> tuple[int, int]:
    milliseconds, _, sequence = reply_text(value).partition("-")
    return int(milliseconds), int(sequence or 0)
