"""The buffer: accepted ratings go into a Redis stream in one round trip.

One Lua script does, atomically: the duplicate checks on the form's nonce and on the
portal's transaction (one rating per transaction), the rate limit per client and
service, and the XADD. A rating is acknowledged to the citizen only
after this script returned, and the server persists it with AOF.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from collector import keys
from collector.errors import ServiceUnavailable
from collector.messages import EVENT_ENCODER, RatingEvent
from collector.redis_clients import reply_text
from collector.script_batch import ScriptBatch

_SUBMIT_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {0, 'duplicate'}
end
if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 1 then
  return {0, 'duplicate'}
end
local used = redis.call('INCR', KEYS[3])
if used == 1 then
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
if used > tonumber(ARGV[2]) then
  return {0, 'rate_limited'}
end
-- XADD first: a script is not rolled back on error, and a nonce marked as used
-- without its rating stored would thank the citizen's retry for nothing.
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[4])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
if KEYS[4] then
  redis.call('SET', KEYS[4], id, 'PX', ARGV[5])
end
return {1, id}
"""

_RATE_WINDOW_MILLISECONDS = 60_000


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    outcome: Outcome
    stream_id: str | None = None


class RatingBuffer:
    """Writes ratings to the stream; raises ServiceUnavailable when Redis does not answer."""

    def __init__(self, redis: Redis, *, rate_limit_per_minute: int, nonce_ttl_seconds: int):
        self._batch = ScriptBatch(redis, _SUBMIT_SCRIPT)
        self._rate_limit = rate_limit_per_minute
        self._nonce_ttl_milliseconds = nonce_ttl_seconds * 1000

    async def submit(
        self, event: RatingEvent, nonce: str, transaction_ttl_milliseconds: int = 0
    ) -> SubmitResult:
        """Store the event unless its form or its transaction was already rated.

        transaction_ttl_milliseconds: how long to remember event.transaction (until its
        token expires; storage's unique key holds after that).
        """
        window = int(time.time() * 1000) // _RATE_WINDOW_MILLISECONDS
        script_keys = [
            keys.STREAM,
            keys.form_nonce(event.service, nonce),
            keys.rate_window(event.service, event.client_hash, window),
        ]
        arguments: list[bytes | int] = [
            self._nonce_ttl_milliseconds,
            self._rate_limit,
            _RATE_WINDOW_MILLISECONDS * 2,
            EVENT_ENCODER.encode(event),
        ]
        if event.transaction:
            script_keys.append(keys.transaction(event.service, event.transaction))
            arguments.append(max(1000, transaction_ttl_milliseconds))
        try:
            reply = await self._batch.call(script_keys, arguments)
        except (RedisError, OSError) as error:
            raise ServiceUnavailable(f"the rating buffer did not answer: {error}") from None
        stored, detail = cast("tuple[int, bytes]", reply)  # the script's two values
        if stored == 1:
            return SubmitResult(Outcome.ACCEPTED, reply_text(detail))
        return SubmitResult(Outcome(reply_text(detail)))
