"""Group commit for the hot path's Lua script: the calls of concurrent requests go to
Redis together, in one pipeline.

Each request still awaits its own reply, so no citizen is thanked before Redis has
acknowledged their rating. While one pipeline is in flight, the calls that arrive wait
for it and go in the next: under load, one round trip (and, with appendfsync always,
one fsync) serves many ratings, and redis-py's per-call overhead is paid per batch.

On a Redis Cluster, redis-py's cluster pipeline splits the batch by node (each call's
keys are in one slot) and sends the nodes' pipelines concurrently: still one round
trip per batch, and a reloaded script goes to every primary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, NoScriptError, RedisError

from collector.redis_clients import RedisClient

logger = logging.getLogger(__name__)

# Enough to fill one read of Redis's socket buffer; more waits for the next batch.
MAXIMUM_BATCH = 256

Call = tuple[Sequence[str], Sequence[bytes | int | str], "asyncio.Future[object]"]


class ScriptBatch:
    def __init__(self, redis: RedisClient, source: str) -> None:
        self._redis = redis
        self._script = redis.register_script(source)
        self._waiting: list[Call] = []
        self._sender: asyncio.Task[None] | None = None

    async def call(self, keys: Sequence[str], arguments: Sequence[bytes | int | str]) -> object:
        """The script's reply. Raises RedisError or OSError when Redis did not answer
        or refused; any other exception is a bug, raised to every caller of the batch."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._waiting.append((keys, arguments, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:MAXIMUM_BATCH]
                del self._waiting[:MAXIMUM_BATCH]
                await self._send(batch)
        finally:
            self._sender = None

    async def _send(self, batch: list[Call]) -> None:
        replies: list[object]
        try:
            replies = await self._execute(batch)
        except Exception as error:
            # Every caller gets an answer: escaping here, the error left their requests
            # waiting for good.
            unanswered = _redis_failure(error)
            if unanswered is None:
                # A bug (DataError: redis-py could not encode an argument, so nothing
                # was sent). Logged once for the batch; each caller gets it as it is,
                # not as "Redis down", so that nobody spools or retries what would
                # fail the same way again.
                logger.exception("script batch: unexpected error")
            replies = [unanswered or error] * len(batch)
        for (_, _, future), reply in zip(batch, replies, strict=True):
            if future.done():  # the request was cancelled (its client went away)
                continue
            if isinstance(reply, BaseException):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _execute(self, batch: list[Call]) -> list[object]:
        replies = await self._pipeline(batch)
        # NOSCRIPT means the call ran nothing, so it alone is sent again. Any other
        # error reaches every caller of the batch, never re-sent (buffer.py says why).
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            # The server lost its script cache (a restart): those calls did nothing.
            await self._redis.script_load(self._script.script)
            again = await self._pipeline([batch[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, batch: list[Call]) -> list[object]:
        async with self._redis.pipeline(transaction=False) as pipeline:
            for keys, arguments, _ in batch:
                # Not pipeline.evalsha(): redis-py 8.1's cluster pipeline refuses that
                # method by name (redis-py#2914), yet routes the command by its keys.
                pipeline.execute_command("EVALSHA", self._script.sha, len(keys), *keys, *arguments)
            return list(await pipeline.execute(raise_on_error=False))


def _redis_failure(error: Exception) -> Exception | None:
    """The error as Redis not answering, or refusing the batch; None for a bug."""
    if isinstance(error, RuntimeError) and "handler is closed" in str(error):
        # uvloop's word for a write to a connection the server closed meanwhile (a
        # restart reset it): Redis did not answer, as with OSError.
        return RedisConnectionError(f"the connection failed: {error}")
    if isinstance(error, OSError) or (
        isinstance(error, RedisError) and not isinstance(error, DataError)
    ):
        return error
    return None
