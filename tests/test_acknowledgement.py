"""The flusher's acknowledgement script against real Redis: applied twice (its reply was
lost, or another flusher claimed the batch meanwhile), it counts and dead-letters once."""

from __future__ import annotations

import pytest

from collector import keys
from collector.acknowledgement import Acknowledged, Acknowledgement, DeadLetter
from collector.metrics import BatchFigures
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


BATCH = BatchFigures(entries=3, stored=2, duplicates=0, dead_letters=1, seconds=0.01)


async def test_an_acknowledgement_applied_twice_counts_once(runtime: Runtime) -> None:
    await add(runtime, event(), event(), event())
    first, second, poison = await read(runtime, "flusher-a")
    acknowledgement = Acknowledgement(runtime.redis, 0, "flusher-a")
    letter = DeadLetter(poison, b"payload", "storage refused it")

    assert await acknowledgement.send([first, second], [letter], BATCH) == Acknowledged(3, 1)
    # The same script with the same arguments, as a re-send after a lost reply would run it.
    assert await acknowledgement.send([first, second], [letter], BATCH) == Acknowledged(0, 0)

    assert await pending(runtime) == 0
    assert len(await dead_letters(runtime)) == 1
    counted = await figures(runtime)
    assert (counted["batches"], counted["entries"], counted["stored"]) == ("1", "3", "2")
    assert counted["dead_letters"] == "1"


async def test_an_entry_another_flusher_acknowledged_is_not_dead_lettered_again(
    runtime: Runtime,
) -> None:
    await add(runtime, event(), event())
    kept, poison = await read(runtime, "flusher-a")
    letter = DeadLetter(poison, b"payload", "storage refused it")
    # Another flusher claimed the poison entry, dead-lettered it and acknowledged it.
    claimer = Acknowledgement(runtime.redis, 0, "flusher-b")
    alone = BatchFigures(entries=1, stored=0, duplicates=0, dead_letters=1, seconds=0.01)
    assert await claimer.send([], [letter], alone) == Acknowledged(1, 1)

    late = Acknowledgement(runtime.redis, 0, "flusher-a")
    batch = BatchFigures(entries=2, stored=1, duplicates=0, dead_letters=1, seconds=0.01)
    assert await late.send([kept], [letter], batch) == Acknowledged(1, 0)

    assert len(await dead_letters(runtime)) == 1
    counted = await figures(runtime)
    assert (counted["batches"], counted["dead_letters"]) == ("2", "1")
