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
XACK answers, not from what the flusher says: an entry counts (in `entries`, and as
stored, duplicate or dead letter) only if this call's XACK removed it from the pending
list, and the batch counts only if the call acknowledged at least one entry. A second
run finds nothing pending and counts nothing; a batch that overlaps entries another
flusher acknowledged first counts only the others. Over any interleaving, `entries`
is the number of entries acknowledged, and stored, duplicates, dead letters and
entries that had vanished from the stream add up to it. No marker key is needed, and
nothing has to expire.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from collector import keys
from collector.metrics import BATCH_SECONDS_BUCKETS, BATCH_SIZE_BUCKETS, bucket_field
from collector.redis_clients import RedisClient

# KEYS: stream, dead-letter stream, flush metrics hash
# ARGV: group, consumer, now (ms), seconds, seconds bucket field, d, d (entry id,
#       reason, payload) triples, g, then per group: its entry count n, how many of
#       them were stored and how many were duplicates (the rest had vanished), n ids.
# XACK takes the ids in chunks: Lua's unpack() refuses about 8,000 values, and a batch
# may hold 10,000.
# Returns {entries acknowledged, stored, duplicates, dead letters added}, by this call.
_ACKNOWLEDGE_TEMPLATE = """
local group, consumer, now = ARGV[1], ARGV[2], ARGV[3]
local at = 6
local dead = tonumber(ARGV[at])
at = at + 1
local acknowledged, stored, duplicates, added = 0, 0, 0, 0
for _ = 1, dead do
  if redis.call('XACK', KEYS[1], group, ARGV[at]) == 1 then
    redis.call('XADD', KEYS[2], '*', 'entry_id', ARGV[at], 'reason', ARGV[at + 1],
      'consumer', consumer, 'dead_at', now, 'e', ARGV[at + 2])
    acknowledged = acknowledged + 1
    added = added + 1
  end
  at = at + 3
end
local groups = tonumber(ARGV[at])
at = at + 1
for _ = 1, groups do
  local count, new, repeated = tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local last = at + 2 + count
  local here = 0
  for first = at + 3, last, 1000 do
    local chunk_end = math.min(first + 999, last)
    here = here + redis.call('XACK', KEYS[1], group, unpack(ARGV, first, chunk_end))
  end
  -- Which of the group's entries someone else acknowledged first is not known. Most
  -- likely they stored them first too, so here they were the duplicates: the entries
  -- this call acknowledged count as stored first.
  local counted = math.min(new, here)
  stored = stored + counted
  duplicates = duplicates + math.min(repeated, here - counted)
  acknowledged = acknowledged + here
  at = last + 1
end
if acknowledged == 0 then
  return {0, 0, 0, 0}
end
local size_field
for _, bucket in ipairs({SIZE_BUCKETS}) do
  if acknowledged <= bucket[1] then
    size_field = bucket[2]
    break
  end
end
redis.call('HINCRBY', KEYS[3], 'batches', 1)
redis.call('HINCRBY', KEYS[3], 'entries', acknowledged)
redis.call('HINCRBY', KEYS[3], 'stored', stored)
redis.call('HINCRBY', KEYS[3], 'duplicates', duplicates)
if added > 0 then
  redis.call('HINCRBY', KEYS[3], 'dead_letters', added)
end
redis.call('HINCRBYFLOAT', KEYS[3], 'seconds_sum', ARGV[4])
redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
redis.call('HINCRBY', KEYS[3], size_field, 1)
return {acknowledged, stored, duplicates, added}
"""
# The batch size histogram's buckets, {bound, hash field}, the last one unbounded.
_SIZE_BUCKETS = [
    (str(bound), bucket_field("size", bound, BATCH_SIZE_BUCKETS)) for bound in BATCH_SIZE_BUCKETS
] + [("math.huge", bucket_field("size", math.inf, BATCH_SIZE_BUCKETS))]
_ACKNOWLEDGE = _ACKNOWLEDGE_TEMPLATE.replace(
    "SIZE_BUCKETS", ", ".join(f"{{{bound}, '{field}'}}" for bound, field in _SIZE_BUCKETS)
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: bytes
    payload: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class StoredEntries:
    """Entries one storage call settled: `stored` of them were new rows, `duplicates`
    were stored already, and any others had vanished from the stream."""

    entry_ids: Sequence[bytes]
    stored: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """What one call acknowledged and counted: all 0 when someone had already."""

    entries: int
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0


class Acknowledgement:
    """Acknowledges batches of one shard's stream for one consumer."""

    def __init__(self, redis: RedisClient, shard: int, consumer: str) -> None:
        self._script = redis.register_script(_ACKNOWLEDGE)
        self._keys = [keys.stream(shard), keys.dead_letters(shard), keys.flush_metrics(shard)]
        self._consumer = consumer

    async def send(
        self, settled: Sequence[StoredEntries], dead: Sequence[DeadLetter], seconds: float
    ) -> Acknowledged:
        """Dead-letter `dead`, acknowledge them and the settled entries, and count the
        batch (it took `seconds`); only for the entries still pending (safe to send
        again after a lost reply)."""
        arguments: list[bytes | str | int] = [
            keys.FLUSHER_GROUP,
            self._consumer,
            int(time.time() * 1000),
            f"{seconds:.9f}",
            bucket_field("seconds", seconds, BATCH_SECONDS_BUCKETS),
            len(dead),
        ]
        for letter in dead:
            arguments += [letter.entry_id, letter.reason, letter.payload]
        arguments.append(len(settled))
        for group in settled:
            arguments += [len(group.entry_ids), group.stored, group.duplicates]
            arguments += group.entry_ids
        reply = await self._script(keys=self._keys, args=arguments)
        entries, stored, duplicates, dead_letters = (int(value) for value in reply)
        return Acknowledged(entries, stored, duplicates, dead_letters)
