"""Erasure of a portal transaction on a citizen's request: its rating leaves the Redis
stream, the dead letters and storage.

The order makes a flusher that already read the entry harmless:

1. XDEL the stream entry (the transaction's key names it): from then on no flusher can
   read it, and one that reads it again while it is pending gets it without fields and
   acknowledges it (collector/flusher.py).
2. Wait until no consumer of the group has it pending. A flusher that held it has then
   stored it and acknowledged it after COMMIT, or dead-lettered it, or found it gone.
   (XAUTOCLAIM drops a deleted entry from the pending list, so a dead flusher's hold
   ends when another one claims its entries.)
3. Delete the transaction's dead letters, then 4. its stored ratings: whatever the
   flusher did with the entry is now there to be found.

The transaction's key stays until it expires with the portal's token: it holds only
the entry's id, and keeps refusing a second rating of the same transaction. If it had
expired (or never existed), it is set again for 30 days, so that a rating of the
transaction still waiting in a local spool (collector/spool.py) is not stored later.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import cast

import msgspec
from redis.exceptions import RedisError, ResponseError

from collector import keys
from collector.errors import BadRequest, ServiceUnavailable
from collector.redis_clients import RedisClient, reply_text
from collector.shards import shard_of
from collector.storage import Storage, StorageError
from collector.transaction_token import Reference

_STREAM_ID = re.compile(r"\d+-\d+")
_PAGE = 500
# Far longer than a spool waits for Redis to come back.
_SPOOL_GUARD_MILLISECONDS = 30 * 86_400_000
_FIRST_POLL_SECONDS, _LAST_POLL_SECONDS = 0.02, 0.5


class ErasureIncomplete(ServiceUnavailable):
    """A flusher still holds the rating; the erasure is safe to run again."""


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What was removed: unflushed stream entries, dead letters, stored ratings."""

    stream_entries: int
    dead_letters: int
    stored_ratings: int


class _Reference(msgspec.Struct):
    """The two fields of a stream payload an erasure matches on; the rest is ignored."""

    service: str = ""
    transaction: str = ""


_REFERENCE_DECODER = msgspec.json.Decoder(_Reference)


def check_reference(transaction: str) -> None:
    """BadRequest unless the reference is one a portal token can carry. An empty one
    above all: every rating without a transaction would match it in the stream."""
    try:
        msgspec.convert(transaction, Reference)
    except msgspec.ValidationError:
        raise BadRequest(
            "a transaction reference is 1 to 128 characters, none of them control characters",
            field="reference",
        ) from None


async def erase_transaction(
    redis: RedisClient,
    storage: Storage,
    service: str,
    transaction: str,
    *,
    wait_seconds: float = 30.0,
    shards: int = 1,
) -> ErasureReport:
    """Erase everything tied to the service's transaction reference.

    Every shard is searched, not only the one the transaction goes to now: a rating
    taken before the shard count changed may sit on another.

    Raises ErasureIncomplete when a flusher still holds the entry after wait_seconds,
    and ServiceUnavailable when Redis or storage does not answer; both may be retried.
    """
    check_reference(transaction)
    deleted = dead = 0
    # No call here is re-sent by the client; after an error the whole erasure is run
    # again, which is safe: GET, XRANGE and XPENDING only read, SET NX keeps the first
    # value, and XDEL deletes nothing more the second time (so a repeated erasure may
    # report fewer entries than were removed in all).
    try:
        found = [
            (shard, await _stream_entries(redis, shard, service, transaction))
            for shard in range(shards)
        ]
        # A rating still in a collector's local spool (Redis was down when it came) is
        # not in Redis yet: marking the transaction as rated, on the shard it goes to,
        # makes its replay a duplicate, which the submit script drops.
        await redis.set(
            keys.transaction(service, transaction, shard_of(service, transaction, "", shards)),
            "erased",
            nx=True,
            px=_SPOOL_GUARD_MILLISECONDS,
        )
        for shard, entry_ids in found:
            if entry_ids:
                deleted += int(await redis.xdel(keys.stream(shard), *entry_ids))
        for shard, entry_ids in found:
            await _wait_until_released(redis, shard, entry_ids, wait_seconds)
        for shard in range(shards):
            letters = await _matching(redis, keys.dead_letters(shard), service, transaction)
            if letters:
                dead += int(await redis.xdel(keys.dead_letters(shard), *letters))
    except RedisError as error:
        raise ServiceUnavailable(f"Redis did not answer; erase again: {error}") from None
    try:
        stored = await storage.erase_transaction(service, transaction)
    except StorageError as error:
        raise ServiceUnavailable(f"storage refused the erasure; run it again: {error}") from None
    return ErasureReport(stream_entries=deleted, dead_letters=dead, stored_ratings=stored)


async def _stream_entries(
    redis: RedisClient, shard: int, service: str, transaction: str
) -> list[str]:
    """The transaction's entry on the shard, as its key there names it; without that
    key (expired with the portal's token, or never there), a scan of the shard's stream."""
    value = await redis.get(keys.transaction(service, transaction, shard))
    if value is not None and _STREAM_ID.fullmatch(reply_text(value)):
        return [reply_text(value)]
    return await _matching(redis, keys.stream(shard), service, transaction)


async def _matching(redis: RedisClient, stream: str, service: str, transaction: str) -> list[str]:
    """Ids of the stream's entries whose payload names the service and transaction."""
    found: list[str] = []
    start = "-"
    while True:
        page = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            await redis.xrange(stream, min=start, max="+", count=_PAGE),
        )
        for entry_id, fields in page:
            try:
                reference = _REFERENCE_DECODER.decode((fields or {}).get(b"e", b""))
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # not a rating event: nothing of a transaction in it
            if (reference.service, reference.transaction) == (service, transaction):
                found.append(reply_text(entry_id))
        if len(page) < _PAGE:
            return found
        start = "(" + reply_text(page[-1][0])


async def _wait_until_released(
    redis: RedisClient, shard: int, entry_ids: list[str], wait_seconds: float
) -> None:
    deadline = time.monotonic() + wait_seconds
    pause = _FIRST_POLL_SECONDS
    for entry_id in entry_ids:
        while (holder := await _holder(redis, shard, entry_id)) is not None:
            if time.monotonic() >= deadline:
                raise ErasureIncomplete(
                    f"the flusher {holder!r} still holds the rating (stream entry "
                    f"{entry_id}); it can no longer be read, and running the erasure again "
                    "once it is acknowledged finishes the job"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LAST_POLL_SECONDS)


async def _holder(redis: RedisClient, shard: int, entry_id: str) -> str | None:
    """The consumer that has the shard's entry pending, if any."""
    try:
        pending = await redis.xpending_range(
            keys.stream(shard), keys.FLUSHER_GROUP, min=entry_id, max=entry_id, count=1
        )
    except ResponseError as error:
        if "NOGROUP" in str(error):  # no flusher ever ran: nothing can be pending
            return None
        raise
    return reply_text(cast("bytes", pending[0]["consumer"])) if pending else None
