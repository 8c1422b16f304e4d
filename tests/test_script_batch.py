"""Group commit of the submit script: many concurrent calls, few round trips, each
caller with its own reply."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import uvloop
from redis.asyncio import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ResponseError

from collector.redis_clients import RedisClient, hot_path_client
from collector.runtime import Runtime
from collector.script_batch import MAXIMUM_BATCH, ScriptBatch
from tests.faults.redis_proxy import RedisProxy
from tests.helpers import eventually

# Returns its argument, and counts how often it ran.
ECHO = "redis.call('INCR', KEYS[1]); return ARGV[1]"


def count_pipelines(batch: ScriptBatch) -> list[int]:
    """Record the size of every pipeline the batch sends."""
    sizes: list[int] = []
    send = batch._pipeline

    async def counted(calls: list[Any]) -> list[object]:
        sizes.append(len(calls))
        return await send(calls)

    batch._pipeline = counted  # type: ignore[method-assign,assignment]
    return sizes


async def test_concurrent_calls_share_round_trips_and_get_their_own_replies(
    runtime: Runtime,
) -> None:
    batch = ScriptBatch(runtime.redis, ECHO)
    sizes = count_pipelines(batch)
    replies = await asyncio.gather(*(batch.call(["calls"], [f"r{n}"]) for n in range(600)))
    assert [reply.decode() for reply in replies] == [f"r{n}" for n in range(600)]  # type: ignore[attr-defined]
    assert await runtime.redis.get("calls") == b"600"
    # All 600 wait before the first round trip; the first pipeline meets NOSCRIPT and
    # is sent again after SCRIPT LOAD; then the rest, at most MAXIMUM_BATCH at a time.
    assert MAXIMUM_BATCH == 256
    assert sizes == [256, 256, 256, 88]


async def test_a_flushed_script_cache_is_reloaded(runtime: Runtime) -> None:
    batch = ScriptBatch(runtime.redis, ECHO)
    assert await batch.call(["calls"], ["a"]) == b"a"
    await runtime.redis.script_flush()
    replies = await asyncio.gather(batch.call(["calls"], ["b"]), batch.call(["calls"], ["c"]))
    assert list(replies) == [b"b", b"c"]
    assert await runtime.redis.get("calls") == b"3"  # nothing ran twice


async def test_an_error_of_one_call_is_that_calls_only(runtime: Runtime) -> None:
    batch = ScriptBatch(runtime.redis, ECHO)
    await runtime.redis.set("text", "not a number")
    good, bad = await asyncio.gather(
        batch.call(["calls"], ["ok"]), batch.call(["text"], ["x"]), return_exceptions=True
    )
    assert good == b"ok"
    assert isinstance(bad, ResponseError)


async def test_redis_down_fails_every_waiting_call() -> None:
    redis = hot_path_client("redis://127.0.0.1:1/0")
    batch = ScriptBatch(redis, ECHO)
    try:
        results = await asyncio.gather(
            *(batch.call(["k"], [str(n)]) for n in range(5)), return_exceptions=True
        )
        assert all(isinstance(result, RedisConnectionError | OSError) for result in results)
    finally:
        await redis.aclose()


async def test_a_bug_reaches_every_waiting_caller_as_it_is_and_is_logged_once(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """An argument redis-py cannot encode is no "Redis down": each caller gets it."""
    batch = ScriptBatch(runtime.redis, ECHO)
    unencodable: Any = object()  # redis-py encodes bytes, str, int and float only
    with caplog.at_level(logging.ERROR, logger="collector.script_batch"):
        results = await asyncio.gather(
            batch.call(["calls"], ["before"]),
            batch.call(["calls"], [unencodable]),
            batch.call(["calls"], ["after"]),
            return_exceptions=True,
        )
    assert all(isinstance(result, DataError) for result in results)
    logged = [record for record in caplog.records if record.name == "collector.script_batch"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert logged[0].exc_info[1] is results[0]
    assert await runtime.redis.get("calls") is None  # nothing was sent


def test_a_connection_the_server_reset_is_a_connection_error_under_uvloop(
    redis_url: str,
) -> None:
    """uvloop raises RuntimeError on a write to a transport the peer reset (the
    serving processes run on uvloop); every caller gets a Redis connection error."""

    async def reset_then_call() -> list[BaseException | object]:
        proxy = RedisProxy(redis_url)
        await proxy.start()
        redis = hot_path_client(proxy.url)
        try:
            batch = ScriptBatch(redis, ECHO)
            assert await batch.call(["reset"], ["a"]) == b"a"  # one idle pooled connection
            proxy.reset_connections()
            await eventually(lambda: idle_connections_closed(redis))
            return await asyncio.gather(
                *(batch.call(["reset"], [str(n)]) for n in range(3)), return_exceptions=True
            )
        finally:
            await redis.aclose()
            await proxy.close()

    results = uvloop.run(reset_then_call())
    assert all(isinstance(result, RedisConnectionError) for result in results), results
    assert "handler is closed" in str(results[0])


async def idle_connections_closed(redis: RedisClient) -> bool:
    """The pool's idle connections have seen their transport closed (the reset)."""
    idle = redis.connection_pool._available_connections  # type: ignore[union-attr]
    return bool(idle) and all(
        connection._writer is not None and connection._writer.transport.is_closing()
        for connection in idle
    )


async def test_a_cancelled_caller_does_not_break_the_batch(runtime: Runtime) -> None:
    batch = ScriptBatch(runtime.redis, ECHO)
    first = asyncio.ensure_future(batch.call(["calls"], ["gone"]))
    second = asyncio.ensure_future(batch.call(["calls"], ["stays"]))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == b"stays"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_on_a_cluster_one_batch_reaches_every_node(redis_cluster_url: str) -> None:
    """Calls whose keys lie on all three masters go in one batch; each gets its own
    reply, and a script missing on the nodes is loaded on every one of them."""
    redis = hot_path_client(redis_cluster_url, cluster=True)
    assert isinstance(redis, RedisCluster)
    batch = ScriptBatch(redis, ECHO)
    sizes = count_pipelines(batch)
    try:
        await redis.script_flush()  # on every primary
        replies = await asyncio.gather(
            *(batch.call([f"{{slot-{n}}}:calls"], [f"r{n}"]) for n in range(60))
        )
        assert [reply.decode() for reply in replies] == [f"r{n}" for n in range(60)]  # type: ignore[attr-defined]
        assert sizes == [60, 60]  # NOSCRIPT everywhere, SCRIPT LOAD, then all again
        counted = [await redis.get(f"{{slot-{n}}}:calls") for n in range(60)]
        assert counted == [b"1"] * 60  # nothing ran twice
        nodes = {str(redis.get_node_from_key(f"{{slot-{n}}}:calls")) for n in range(60)}
        assert len(nodes) == 3
    finally:
        await redis.aclose()
