"""The flusher's acknowledgement of a batch, in one atomic Lua script: the dead letters
go to the shard's dead-letter stream, every entry is XACKed, and the batch's figures are
added to the shard's metrics hash (collector/metrics.py).

A script rather than MULTI: its three keys share the shard's hash tag, so it runs on
one Redis Cluster node as it does on a single server, in one round trip either way
(redis-py's asynchronous cluster client has no usable MULTI: it starts a thread per
queued command).

Applying it twice changes nothing more than applying it once. Its reply can be lost
after it ran; then the flusher cannot tell whether it did, and the same batch may come
back to it (or to another flusher, after XAUTOCLAIM). So the script counts from what
XACK answers, not from what the flusher says: an entry's dead letter is added only if
this call's XACK removed the entry from the pending list, and the batch's figures are
added only if the call acknowledged at least one of its entries. A second run finds
nothing pending, adds no dead letter and counts nothing. No marker key is needed, and
nothing has to expire.
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
# Returns {entries acknowledged by this call, dead letters added by it}.
_ACKNOWLEDGE = """
local group, consumer, now = ARGV[1], ARGV[2], ARGV[3]
local increments = tonumber(ARGV[4])
local at = 5 + 2 * increments
local dead = tonumber(ARGV[at])
at = at + 1
local acknowledged, added = 0, 0
for _ = 1, dead do
  if redis.call('XACK', KEYS[1], group, ARGV[at]) == 1 then
    redis.call('XADD', KEYS[2], '*', 'entry_id', ARGV[at], 'reason', ARGV[at + 1],
      'consumer', consumer, 'dead_at', now, 'e', ARGV[at + 2])
    acknowledged = acknowledged + 1
    added = added + 1
  end
  at = at + 3
end
for first = at, #ARGV, 1000 do
  acknowledged = acknowledged
    + redis.call('XACK', KEYS[1], group, unpack(ARGV, first, math.min(first + 999, #ARGV)))
end
if acknowledged == 0 then
  return {0, 0}
end
for i = 5, 4 + 2 * increments, 2 do
  local field, increment = ARGV[i], ARGV[i + 1]
  if string.find(increment, '.', 1, true) then
    redis.call('HINCRBYFLOAT', KEYS[3], field, increment)
  else
    redis.call('HINCRBY', KEYS[3], field, increment)
  end
end
if added > 0 then
  redis.call('HINCRBY', KEYS[3], 'dead_letters', added)
end
return {acknowledged, added}
"""
# Counted by the script from the dead letters it added, not from the batch's figures.
_COUNTED_BY_THE_SCRIPT = "dead_letters"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: bytes
    payload: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """What one call did: 0 and 0 when the batch had been acknowledged already."""

    entries: int
    dead_letters: int


class Acknowledgement:
    """Acknowledges batches of one shard's stream for one consumer."""

    def __init__(self, redis: RedisClient, shard: int, consumer: str) -> None:
        self._script = redis.register_script(_ACKNOWLEDGE)
        self._keys = [keys.stream(shard), keys.dead_letters(shard), keys.flush_metrics(shard)]
        self._consumer = consumer

    async def send(
        self, entry_ids: list[bytes], dead: list[DeadLetter], batch: BatchFigures
    ) -> Acknowledged:
        """Dead-letter `dead`, acknowledge them and `entry_ids`, count the batch; only
        for the entries still pending (safe to send again after a lost reply)."""
        increments = [item for item in batch_increments(batch) if item[0] != _COUNTED_BY_THE_SCRIPT]
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
        entries, dead_letters = await self._script(keys=self._keys, args=arguments)
        return Acknowledged(int(entries), int(dead_letters))
