"""The flusher's acknowledgement script against real Redis: applied twice (its reply was
lost), or over entries another flusher acknowledged first (it claimed them meanwhile),
it counts and dead-letters each entry once: `entries` is the number of entries
acknowledged, and stored, duplicates, dead letters and vanished entries add up to it."""

from __future__ import annotations

import pytest

from collector import keys
from collector.acknowledgement import Acknowledged, Acknowledgement, DeadLetter, StoredEntries
from collector.redis_clients import reply_text
from collector.runtime import Runtime
from tests.conftest import REDIS_LAYOUTS
from tests.helpers import add, dead_letters, event, pending, stream_entries


@pytest.fixture(params=REDIS_LAYOUTS)
def redis_layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def read(runtime: Runtime, consumer: str) -> list[bytes]:
    """Deliver every new entry of shard 0 to `consumer`; their ids."""
    await runtime.redis.xgroup_create(keys.STREAM, keys.FLUSHER_GROUP, id="0", mkstream=True)
    await runtime.redis.xreadgroup(keys.FLUSHER_GROUP, consumer, {keys.STREAM: ">"})
    return [entry_id for entry_id, _ in await stream_entries(runtime.redis, keys.STREAM)]


async def figures(runtime: Runtime) -> dict[str, str]:
    values = await runtime.redis.hgetall(keys.FLUSH_METRICS)
    return {reply_text(name): reply_text(value) for name, value in values.items()}


async def counted(runtime: Runtime) -> tuple[int, int, int, int, int]:
    """batches, entries, stored, duplicates, dead letters, as the metrics hash has them."""
    values = await figures(runtime)
    names = ("batches", "entries", "stored", "duplicates", "dead_letters")
    batches, entries, stored, duplicates, dead = (int(values.get(name, 0)) for name in names)
    return batches, entries, stored, duplicates, dead


async def test_an_acknowledgement_applied_twice_counts_once(runtime: Runtime) -> None:
    await add(runtime, event(), event(), event())
    first, second, poison = await read(runtime, "flusher-a")
    acknowledgement = Acknowledgement(runtime.redis, 0, "flusher-a")
    letter = DeadLetter(poison, b"payload", "storage refused it")
    stored = [StoredEntries([first, second], 2, 0)]

    assert await acknowledgement.send(stored, [letter], 0.004) == Acknowledged(3, 2, 0, 1)
    # The same script with the same arguments, as a re-send after a lost reply would run it.
    assert await acknowledgement.send(stored, [letter], 0.004) == Acknowledged(0, 0, 0, 0)

    assert await pending(runtime) == 0
    assert len(await dead_letters(runtime)) == 1
    assert await counted(runtime) == (1, 3, 2, 0, 1)
    histograms = await figures(runtime)
    assert (histograms["size_le_10"], histograms["seconds_le_0.005"]) == ("1", "1")


async def test_an_entry_another_flusher_acknowledged_is_not_dead_lettered_again(
    runtime: Runtime,
) -> None:
    await add(runtime, event(), event())
    kept, poison = await read(runtime, "flusher-a")
    letter = DeadLetter(poison, b"payload", "storage refused it")
    # Another flusher claimed the poison entry, dead-lettered it and acknowledged it.
    claimer = Acknowledgement(runtime.redis, 0, "flusher-b")
    assert await claimer.send([], [letter], 0.01) == Acknowledged(1, 0, 0, 1)

    late = Acknowledgement(runtime.redis, 0, "flusher-a")
    assert await late.send([StoredEntries([kept], 1, 0)], [letter], 0.01) == Acknowledged(1, 1)

    assert len(await dead_letters(runtime)) == 1
    # Two entries: one stored, one dead letter, in two batches.
    assert await counted(runtime) == (2, 2, 1, 0, 1)


async def test_a_batch_overlapping_a_claimed_one_counts_only_its_own_entries(
    runtime: Runtime,
) -> None:
    await add(runtime, event(), event(), event(), event())
    first, claimed, third, gone = await read(runtime, "flusher-a")
    # flusher-b claimed one entry while flusher-a was slow, found it stored already
    # (flusher-a's transaction had committed) and acknowledged it first.
    claimer = Acknowledgement(runtime.redis, 0, "flusher-b")
    assert await claimer.send([StoredEntries([claimed], 0, 1)], [], 0.01) == Acknowledged(1, 0, 1)
    # flusher-a stored three new rows; the fourth entry had been deleted from the stream.
    slow = Acknowledgement(runtime.redis, 0, "flusher-a")
    batch = [StoredEntries([first, claimed, third], 3, 0), StoredEntries([gone], 0, 0)]
    assert await slow.send(batch, [], 0.01) == Acknowledged(3, 2, 0, 0)

    assert await pending(runtime) == 0
    # Four entries, each counted once: 2 stored + 1 duplicate + 1 vanished.
    assert await counted(runtime) == (2, 4, 2, 1, 0)
    assert await slow.send(batch, [], 0.01) == Acknowledged(0)
    assert await counted(runtime) == (2, 4, 2, 1, 0)


async def test_groups_of_more_ids_than_lua_unpacks_at_once(runtime: Runtime) -> None:
    await add(runtime, *(event() for _ in range(2600)))
    ids = await read(runtime, "flusher-a")
    acknowledgement = Acknowledgement(runtime.redis, 0, "flusher-a")
    groups = [StoredEntries(ids[:1999], 1990, 9), StoredEntries(ids[1999:], 600, 1)]
    assert await acknowledgement.send(groups, [], 0.3) == Acknowledged(2600, 2590, 10)
    assert await pending(runtime) == 0
    assert await counted(runtime) == (1, 2600, 2590, 10, 0)
    assert (await figures(runtime))["size_le_5000"] == "1"
