"""The flusher's acknowledgement of a batch, in one atomic Lua script: the dead letters
go to the shard's dead-letter stream, every entry is XACKed, and the batch's figures are
added to the shard's metrics hash (collector/metrics.py).

A script rather than MULTI: its three keys share the shard's hash tag, so it runs on
one Redis Cluster node as it does on a single server, in one round trip either way
(redis-py's asynchronous cluster client has no usable MULTI: it starts a thread per
queued command).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from collector import keys
from collector.metrics import BatchFigures, batch_increments
from collector.redis_clients import RedisClient

# KEYS: stream, dead-letter stream, flush metrics hash
# ARGV: group, consumer, now (ms), n, n (field, increment) pairs, d, d (entry id,
#       reason, payload) triples, then the ids of the other entries to acknowledge.
# An increment with a "." is a float (HINCRBYFLOAT). XACK takes the ids in chunks:
# Lua's unpack() refuses about 8,000 values, and a batch may hold 10,000.
_ACKNOWLEDGE = """
local group, consumer, now = ARGV[1], ARGV[2], ARGV[3]
local at = 5
for _ = 1, tonumber(ARGV[4]) do
  local field, increment = ARGV[at], ARGV[at + 1]
  if string.find(increment, '.', 1, true) then
    redis.call('HINCRBYFLOAT', KEYS[3], field, increment)
  else
    redis.call('HINCRBY', KEYS[3], field, increment)
  end
  at = at + 2
end
local dead = tonumber(ARGV[at])
at = at + 1
for _ = 1, dead do
  redis.call('XADD', KEYS[2], '*', 'entry_id', ARGV[at], 'reason', ARGV[at + 1],
    'consumer', consumer, 'dead_at', now, 'e', ARGV[at + 2])
  redis.call('XACK', KEYS[1], group, ARGV[at])
  at = at + 3
end
for first = at, #ARGV, 1000 do
  redis.call('XACK', KEYS[1], group, unpack(ARGV, first, math.min(first + 999, #ARGV)))
end
return dead
"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: bytes
    payload: bytes
    reason: str


class Acknowledgement:
    """Acknowledges batches of one shard's stream for one consumer."""

    def __init__(self, redis: RedisClient, shard: int, consumer: str) -> None:
        self._script = redis.register_script(_ACKNOWLEDGE)
        self._keys = [keys.stream(shard), keys.dead_letters(shard), keys.flush_metrics(shard)]
        self._consumer = consumer

    async def send(
        self, entry_ids: list[bytes], dead: list[DeadLetter], batch: BatchFigures
    ) -> None:
        """Dead-letter `dead`, acknowledge them and `entry_ids`, count the batch."""
        increments = batch_increments(batch)
        arguments: list[bytes | str | int] = [
            keys.FLUSHER_GROUP,
            self._consumer,
            int(time.time() * 1000),
            len(increments),
        ]
        for field, increment in increments:
            arguments += [field, increment]
        arguments.append(len(dead))
        for letter in dead:
            arguments += [letter.entry_id, letter.reason, letter.payload]
        arguments += entry_ids
        await self._script(keys=self._keys, args=arguments)
