"""The dead-letter streams (one per shard), read and sent back to their rating streams.

A dead letter keeps the entry's payload (field `e`), so once its cause is fixed (a
flusher of an older version that could not read it, a database that refused it) it
can go back into its shard's stream and through a flusher again. Storage skips an
id it has, so a rating stored after all is not stored twice.

Each move is one Lua script per page of dead letters: XADD of the payload to the
stream and XDEL of the dead letter together, so a dead letter is either still there or
back in the stream, never both or neither. Its reply can be lost after it ran; run
again, the script finds those dead letters gone and moves nothing twice. Both keys
share the shard's hash tag (one cluster slot).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

from collector import keys
from collector.redis_clients import RedisClient, reply_text

# KEYS: dead-letter stream, rating stream. ARGV: ids of dead letters to move.
# Returns how many it moved (a dead letter gone, or without a payload, stays as it is).
_MOVE_BACK = """
local moved = 0
for _, id in ipairs(ARGV) do
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if #found == 1 then
    local fields = found[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == 'e' then
        redis.call('XADD', KEYS[2], '*', 'e', fields[i + 1])
        redis.call('XDEL', KEYS[1], id)
        moved = moved + 1
        break
      end
    end
  end
end
return moved
"""
_PAGE = 100


@dataclass(frozen=True, slots=True)
class DeadLetterSummary:
    shard: int
    letter_id: str  # the dead letter's own id in its stream
    entry_id: str  # the rating's stream entry when it was dead-lettered
    dead_at: int  # milliseconds since the epoch
    reason: str


class DeadLetters:
    """Every shard's dead letters."""

    def __init__(self, redis: RedisClient, shards: int = 1) -> None:
        self._redis = redis
        self._shards = shards
        self._move_back = redis.register_script(_MOVE_BACK)

    async def read(self, reason: str = "") -> AsyncIterator[DeadLetterSummary]:
        """The dead letters whose reason contains `reason`, oldest first per shard."""
        for shard in range(self._shards):
            async for page in self._pages(shard):
                for letter in page:
                    if reason in letter.reason:
                        yield letter

    async def replay(self, reason: str = "") -> list[int]:
        """Send the dead letters whose reason contains `reason` back to their shard's
        stream; how many, per shard."""
        moved = [0] * self._shards
        for shard in range(self._shards):
            async for page in self._pages(shard):
                chosen = [letter.letter_id for letter in page if reason in letter.reason]
                if chosen:
                    moved[shard] += await self._send_back(shard, chosen)
        return moved

    async def _pages(self, shard: int) -> AsyncIterator[list[DeadLetterSummary]]:
        # Past the last id read: what a replay deleted meanwhile does not move the cursor.
        start = "-"
        while True:
            page = cast(
                "list[tuple[bytes, dict[bytes, bytes]]]",
                await self._redis.xrange(keys.dead_letters(shard), start, "+", _PAGE),
            )
            if page:
                yield [_summary(shard, letter_id, fields) for letter_id, fields in page]
            if len(page) < _PAGE:
                return
            start = "(" + reply_text(page[-1][0])

    async def _send_back(self, shard: int, letter_ids: list[str]) -> int:
        script_keys = [keys.dead_letters(shard), keys.stream(shard)]
        return int(await self._move_back(keys=script_keys, args=letter_ids))


def _summary(shard: int, letter_id: bytes, fields: dict[bytes, bytes]) -> DeadLetterSummary:
    def text(name: bytes) -> str:
        return reply_text(fields.get(name, b""))

    dead_at = text(b"dead_at")
    return DeadLetterSummary(
        shard=shard,
        letter_id=reply_text(letter_id),
        entry_id=text(b"entry_id"),
        dead_at=int(dead_at) if dead_at.isdigit() else 0,
        reason=text(b"reason"),
    )
