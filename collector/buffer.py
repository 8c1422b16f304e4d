"""The buffer: accepted ratings go into a Redis stream in one round trip.

One Lua script does, atomically: the duplicate checks on the form's nonce and on the
portal's transaction (one rating per transaction), two rate limits (one client on one
service, and one service over all its clients), and the XADD. A rating is acknowledged
to the citizen only after this script returned, and the server persists it with AOF.

With several shards (REDIS_SHARDS) the script runs on the rating's shard
(collector/shards.py), whose keys share one Redis Cluster slot. The service limit is
split evenly between the shards; the client limit applies per shard (see __init__).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import cast

from redis.exceptions import (
    ClusterError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from collector import keys
from collector.errors import ServiceUnavailable
from collector.messages import EVENT_ENCODER, RatingEvent
from collector.redis_clients import RedisClient, reply_text
from collector.script_batch import ScriptBatch
from collector.shards import shard_of

# KEYS: stream, form nonce, client's rate key, service's rate key[, transaction]
# ARGV: nonce ttl ms, client interval us, client burst, service interval us, service
#       burst, event, transaction ttl ms. An interval of 0 turns that limit off.
#
# Rate limits are GCRA (the generic cell rate algorithm): one key per limit holds the
# "theoretical arrival time" in microseconds of Redis's own clock, so every worker on
# every machine shares one clock and one limit, and a key never holds more than a number.
_SUBMIT_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {0, 'duplicate', 0}
end
if KEYS[5] and redis.call('EXISTS', KEYS[5]) == 1 then
  return {0, 'duplicate', 0}
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local function arrival(key, interval, burst)
  if interval <= 0 then
    return nil, 0
  end
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then
    tat = now
  end
  local allowed_at = tat + interval - interval * burst
  if allowed_at > now then
    return nil, allowed_at - now
  end
  return tat + interval, 0
end
local client_tat, client_wait = arrival(KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]))
if client_wait > 0 then
  return {0, 'rate_limited_client', math.ceil(client_wait / 1000)}
end
local service_tat, service_wait = arrival(KEYS[4], tonumber(ARGV[4]), tonumber(ARGV[5]))
if service_wait > 0 then
  return {0, 'rate_limited_service', math.ceil(service_wait / 1000)}
end
-- XADD first: a script is not rolled back on error, and a nonce marked as used
-- without its rating stored would thank the citizen's retry for nothing.
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[6])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
if KEYS[5] then
  redis.call('SET', KEYS[5], id, 'PX', ARGV[7])
end
if client_tat then
  redis.call('SET', KEYS[3], string.format('%.0f', client_tat),
    'PX', math.ceil((client_tat - now) / 1000) + 1)
end
if service_tat then
  redis.call('SET', KEYS[4], string.format('%.0f', service_tat),
    'PX', math.ceil((service_tat - now) / 1000) + 1)
end
return {1, id, 0}
"""

_MICROSECONDS_PER_MINUTE = 60_000_000


@dataclass(frozen=True, slots=True)
class RateLimit:
    """So many ratings a minute on average, with bursts of up to `burst` at once."""

    per_minute: int
    burst: int

    @property
    def interval_microseconds(self) -> int:
        return _MICROSECONDS_PER_MINUTE // self.per_minute

    def share(self, shards: int) -> RateLimit:
        """One shard's part of a limit whose ratings spread evenly over `shards`
        (rounded up: the shards together never allow less than the whole)."""
        return RateLimit(-(-self.per_minute // shards), -(-self.burst // shards))


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    RATE_LIMITED = "rate_limited"


@dataclass(slots=True)  # not frozen: made once per rating (see widget_request.Request)
class SubmitResult:
    outcome: Outcome
    stream_id: str | None = None
    # When rate limited: which limit ("client" or "service"), and when to try again.
    limit: str = ""
    retry_after_milliseconds: int = 0
    shard: int = 0  # whose stream (and keys) the script ran on


class RatingBuffer:
    """Writes ratings to the stream; raises ServiceUnavailable when Redis does not take
    them for now, and any other error (a bug) as it is."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        client_limit: RateLimit,
        service_limit: RateLimit,
        nonce_ttl_seconds: int,
        shards: int = 1,
    ) -> None:
        """client_limit and service_limit are the whole limits. A service's ratings
        spread evenly over the shards (by nonce or transaction), so each shard takes
        its share of the service limit. A client's limit is not split: with few
        ratings, the split is uneven (of 30 a client may send, 14 can land on one of
        three shards), and a split limit would refuse a busy kiosk below its limit;
        instead a client may get up to `shards` times its limit through in the worst
        case, which the service limit still caps."""
        self._batch = ScriptBatch(redis, _SUBMIT_SCRIPT)
        self._shards = shards
        self._streams = [keys.stream(shard) for shard in range(shards)]
        service_limit = service_limit.share(shards)
        # The script's constant arguments, encoded once: redis-py encodes an int per
        # call (repr, then bytes), a measurable part of packing the command.
        self._constants = [
            str(value).encode()
            for value in (
                nonce_ttl_seconds * 1000,
                client_limit.interval_microseconds,
                client_limit.burst,
                service_limit.interval_microseconds,
                service_limit.burst,
            )
        ]
        self._unlimited = [*self._constants[:1], *_NO_LIMITS]

    async def submit(
        self,
        event: RatingEvent,
        nonce: str,
        transaction_ttl_milliseconds: int = 0,
        *,
        client_hash: str = "",
        rate_limited: bool = True,
    ) -> SubmitResult:
        """Store the event unless its form or its transaction was already rated, or a
        rate limit refuses it.

        transaction_ttl_milliseconds: how long to remember event.transaction (until its
        token expires; storage's unique key holds after that).
        client_hash: the client's salted address hash, the key of its rate limit. It
        is not in the event: it stays in Redis only, in a key that expires.
        rate_limited: False for ratings replayed from the spool, already thanked.
        """
        shard = shard_of(event.service, event.transaction, nonce, self._shards)
        script_keys = [
            self._streams[shard],
            keys.form_nonce(event.service, nonce, shard),
            keys.client_rate(event.service, client_hash, shard),
            keys.service_rate(event.service, shard),
        ]
        arguments: list[bytes | int] = [
            *(self._constants if rate_limited else self._unlimited),
            EVENT_ENCODER.encode(event),
        ]
        if event.transaction:
            script_keys.append(keys.transaction(event.service, event.transaction, shard))
            arguments.append(max(1000, transaction_ttl_milliseconds))
        # Never re-sent by the client (collector/redis_clients.py). If the script ran
        # and its reply was lost, the caller spools the rating or shows "not saved";
        # the replay, or the citizen sending the form again, meets the nonce check,
        # which answers "duplicate" before any write: nothing is stored twice and no
        # rate limit is charged twice.
        try:
            reply = await self._batch.call(script_keys, arguments)
        except (RedisError, OSError) as error:
            if not not_taken_for_now(error):
                raise  # a bug: spooled, it would fail the same way at every replay
            raise ServiceUnavailable(f"the rating buffer did not answer: {error}") from None
        stored, detail, wait = cast("tuple[int, bytes, int]", reply)  # the script's values
        text = reply_text(detail)
        if stored == 1:
            return SubmitResult(Outcome.ACCEPTED, text, shard=shard)
        if text == "duplicate":
            return SubmitResult(Outcome.DUPLICATE, shard=shard)
        limit = text.removeprefix("rate_limited_")
        return SubmitResult(
            Outcome.RATE_LIMITED, limit=limit, retry_after_milliseconds=wait, shard=shard
        )


_NO_LIMITS = [b"0", b"1", b"0", b"1"]

# Redis refusing until it recovers: out of memory, a read-only replica, a cluster
# failing over, a long script, a failing disk. The script ran nothing.
_REFUSED_FOR_NOW = (ClusterError, OutOfMemoryError, ReadOnlyError, TryAgainError)
_REFUSED_FOR_NOW_CODES = ("BUSY ", "MISCONF ", "NOREPLICAS ")


def not_taken_for_now(error: Exception) -> bool:
    """Redis did not take the rating, and may later: unreachable, or refusing for now.
    Any other error (a script error, an argument redis-py cannot encode) is a bug."""
    if isinstance(error, (RedisConnectionError, RedisTimeoutError, OSError)):
        return True
    if isinstance(error, _REFUSED_FOR_NOW):
        return True
    return isinstance(error, ResponseError) and str(error).startswith(_REFUSED_FOR_NOW_CODES)
