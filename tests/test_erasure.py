"""Erasure of a transaction across Redis and storage, and the race with a flusher that
read the rating just before it was deleted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from collector import keys
from collector.buffer import Outcome
from collector.erasure import ErasureIncomplete, ErasureReport, erase_transaction
from collector.errors import BadRequest
from collector.flusher import Flusher
from collector.messages import EVENT_ENCODER
from collector.runtime import Runtime
from collector.spool import RatingSpool
from collector.storage.base import CommentQuery
from tests.conftest import make_flusher
from tests.helpers import dead_letters, event, eventually, pending, stream_entries

SERVICE = "demo-passport"


async def _rate(runtime: Runtime, transaction: str, comment: str = "my passport number") -> str:
    """A rating of the transaction, through the buffer's script as the widget sends it."""
    rated = msgspec.structs.replace(event(2, comment=comment), transaction=transaction)
    result = await runtime.buffer.submit(rated, f"nonce-{transaction}", 3_600_000)
    assert result.outcome is Outcome.ACCEPTED
    return rated.id


async def _erase(runtime: Runtime, transaction: str, wait_seconds: float = 10.0) -> ErasureReport:
    return await erase_transaction(
        runtime.redis, runtime.storage, SERVICE, transaction, wait_seconds=wait_seconds
    )


async def _stored_transactions(runtime: Runtime) -> list[str | None]:
    query = CommentQuery(services=(SERVICE,), with_comment=False)
    return [row.transaction_ref for row in await runtime.storage.comments(query)]


async def _stream_transactions(runtime: Runtime) -> list[str]:
    entries = await stream_entries(runtime.redis, keys.STREAM)
    return [msgspec.json.decode(fields[b"e"])["transaction"] for _, fields in entries]


async def test_an_unflushed_rating_leaves_the_stream_and_is_never_stored(
    runtime: Runtime, flusher: Flusher
) -> None:
    await _rate(runtime, "txn-1")
    await _rate(runtime, "txn-2")

    assert await _erase(runtime, "txn-1") == ErasureReport(1, 0, 0)

    assert await _stream_transactions(runtime) == ["txn-2"]
    assert await flusher.run_once(block=False) == 1
    assert await _stored_transactions(runtime) == ["txn-2"]
    # The key stays: the transaction still cannot be rated a second time.
    again = msgspec.structs.replace(event(5), transaction="txn-1")
    assert (await runtime.buffer.submit(again, "another-form", 3_600_000)).outcome is (
        Outcome.DUPLICATE
    )


async def test_a_flushed_rating_is_erased_from_storage(runtime: Runtime, flusher: Flusher) -> None:
    await _rate(runtime, "txn-1")
    await _rate(runtime, "txn-2")
    await flusher.process(await flusher.read_new(block=False), redelivered=False)
    assert await runtime.storage.count_ratings(SERVICE) == 2

    # The stream entry, acknowledged but not trimmed yet, still held the comment.
    assert await _erase(runtime, "txn-1") == ErasureReport(1, 0, 1)

    assert await _stored_transactions(runtime) == ["txn-2"]
    assert (await runtime.storage.summary(SERVICE, None, None)).count == 1
    assert await _erase(runtime, "txn-1") == ErasureReport(0, 0, 0)


async def test_dead_letters_of_the_transaction_are_erased(runtime: Runtime) -> None:
    letters = [
        EVENT_ENCODER.encode(msgspec.structs.replace(event(1), transaction="txn-1")),
        EVENT_ENCODER.encode(msgspec.structs.replace(event(1), transaction="txn-2")),
        EVENT_ENCODER.encode(
            msgspec.structs.replace(event(1), transaction="txn-1", service="other")
        ),
        b"not json at all",
        b'["json", "but not an event"]',
    ]
    for payload in letters:
        await runtime.redis.xadd(keys.DEAD_LETTERS, {"reason": "test", "e": payload})

    assert await _erase(runtime, "txn-1") == ErasureReport(0, 1, 0)

    assert [fields[b"e"] for fields in await dead_letters(runtime)] == letters[1:]


async def test_once_the_key_expired_the_stream_is_searched(runtime: Runtime) -> None:
    await _rate(runtime, "txn-1")
    await _rate(runtime, "txn-2")
    await runtime.redis.delete(keys.transaction(SERVICE, "txn-1"))

    assert await _erase(runtime, "txn-1") == ErasureReport(1, 0, 0)

    assert await _stream_transactions(runtime) == ["txn-2"]


async def test_a_rating_waiting_in_a_spool_is_not_stored_after_its_erasure(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Redis was down when it came: the erasure cannot see it, but its replay is refused."""
    spool = RatingSpool(tmp_path / "spool")
    waiting = msgspec.structs.replace(event(2, comment="spooled"), transaction="txn-1")
    await spool.append(waiting, "spooled-form", 3_600_000)

    assert await _erase(runtime, "txn-1") == ErasureReport(0, 0, 0)

    assert await spool.replay(runtime.buffer) == 0
    assert await _stream_transactions(runtime) == []
    guard = await runtime.redis.pttl(keys.transaction(SERVICE, "txn-1"))
    assert guard > 29 * 86_400_000


async def test_a_flusher_holding_the_rating_stores_it_first_then_it_is_erased(
    runtime: Runtime, flusher: Flusher
) -> None:
    await _rate(runtime, "txn-1")
    holder = make_flusher(runtime, "holder")
    held = await holder.read_new(block=False)  # read, not stored yet
    assert len(held) == 1

    erasure = asyncio.create_task(_erase(runtime, "txn-1"))
    await eventually(lambda: _stream_is_empty(runtime))
    # Deleted from the stream, but the holder still has it in hand: the erasure waits.
    assert not erasure.done()
    await holder.process(held, redelivered=False)  # stores, then acknowledges
    assert await _stored_transactions(runtime) == ["txn-1"]

    assert await erasure == ErasureReport(1, 0, 1)
    assert await _stored_transactions(runtime) == []
    await holder.close()


async def _stream_is_empty(runtime: Runtime) -> bool:
    return await stream_entries(runtime.redis, keys.STREAM) == []


async def test_a_restarted_holder_acknowledges_the_deleted_entry(runtime: Runtime) -> None:
    await _rate(runtime, "txn-1")
    holder = make_flusher(runtime, "holder")
    await holder.ensure_group()
    assert len(await holder.read_new(block=False)) == 1
    await holder.close()  # dies before storing

    with pytest.raises(ErasureIncomplete, match="'holder' still holds the rating"):
        await _erase(runtime, "txn-1", wait_seconds=0)
    # It restarts under the same name: its pending entry comes back without fields.
    restarted = make_flusher(runtime, "holder")
    assert await restarted.drain_own_pending() == 1
    await restarted.close()

    assert await pending(runtime) == 0
    assert await _stored_transactions(runtime) == []
    assert await dead_letters(runtime) == []
    assert await _erase(runtime, "txn-1", wait_seconds=0) == ErasureReport(0, 0, 0)


async def test_a_deleted_entry_claimed_from_a_dead_flusher_is_dropped(runtime: Runtime) -> None:
    await _rate(runtime, "txn-1")
    await _rate(runtime, "txn-2")
    dead = make_flusher(runtime, "dead")
    await dead.ensure_group()
    assert len(await dead.read_new(block=False)) == 2
    await dead.close()

    with pytest.raises(ErasureIncomplete):
        await _erase(runtime, "txn-1", wait_seconds=0)
    survivor = make_flusher(runtime, "survivor", claim_idle_milliseconds=0)
    # XAUTOCLAIM returns the deleted entry apart and drops it from the pending list.
    assert await survivor.claim_abandoned() == 1
    await survivor.close()

    assert await pending(runtime) == 0
    assert await _stored_transactions(runtime) == ["txn-2"]
    assert await _erase(runtime, "txn-1", wait_seconds=0) == ErasureReport(0, 0, 0)


@pytest.mark.parametrize("reference", ["", "x" * 129, "line\nbreak"])
async def test_a_reference_no_token_can_carry_is_refused(runtime: Runtime, reference: str) -> None:
    await _rate(runtime, "txn-1")
    with pytest.raises(BadRequest, match="1 to 128 characters"):
        await _erase(runtime, reference)
    assert await _stream_transactions(runtime) == ["txn-1"]


@pytest.mark.parametrize("redis_layout", ["shards", "cluster"])
async def test_every_shard_is_searched(runtime: Runtime, redis_layout: str) -> None:
    """The rating on the shard its transaction goes to, and a dead letter and an entry
    of the same transaction on the others (left by an earlier shard count), all go."""
    shards = runtime.settings.redis_shards
    rated = msgspec.structs.replace(event(2), transaction="txn-s")
    home = (await runtime.buffer.submit(rated, "nonce-s", 3_600_000)).shard
    others = [shard for shard in range(shards) if shard != home]
    payload = EVENT_ENCODER.encode(rated)
    await runtime.redis.xadd(keys.stream(others[0]), {"e": payload})
    await runtime.redis.xadd(keys.dead_letters(others[1]), {"reason": "test", "e": payload})
    await runtime.redis.xadd(keys.stream(others[1]), {"e": EVENT_ENCODER.encode(event(4))})

    report = await erase_transaction(
        runtime.redis, runtime.storage, SERVICE, "txn-s", wait_seconds=5, shards=shards
    )

    assert report == ErasureReport(stream_entries=2, dead_letters=1, stored_ratings=0)
    lengths = [await runtime.redis.xlen(keys.stream(shard)) for shard in range(shards)]
    assert sum(lengths) == 1  # the other transaction's rating stays
    assert await runtime.redis.xlen(keys.dead_letters(others[1])) == 0
