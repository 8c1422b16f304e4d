"""Redis clients, configured for what each caller does with them.

redis-py 8 defaults to a 5 s socket timeout and RESP3; both are set explicitly here so
that an upgrade does not change behaviour: the hot path fails fast (a citizen waits),
the flusher's timeout is longer than its blocking XREADGROUP (an idle flusher must not
see a timeout).

With REDIS_CLUSTER on, the same options go to redis-py's cluster client, which finds
the other nodes from the one the URL names and sends each command to the node that
holds its key's slot (collector/keys.py keeps every multi-key operation in one slot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

# Every caller works with either: the commands used here exist on both, and no caller
# uses MULTI on a cluster (redis-py's asynchronous cluster transactions start a thread
# per queued command), only single-slot Lua scripts.
if TYPE_CHECKING:
    RedisClient: TypeAlias = Redis | RedisCluster
else:
    # At run time the alias is read only by Litestar's dependency checks (msgspec),
    # which refuse a union of two classes in Runtime's fields; it passes a dataclass
    # such as Runtime through unchanged, whichever client it holds.
    RedisClient = Redis

_HOT_PATH_SOCKET_TIMEOUT_SECONDS = 2.0
_CONNECT_TIMEOUT_SECONDS = 1.0


def _client(url: str, cluster: bool, **options: Any) -> RedisClient:
    if cluster:
        return RedisCluster.from_url(url, protocol=3, **options)
    return Redis.from_url(url, protocol=3, **options)


def hot_path_client(url: str, cluster: bool = False) -> RedisClient:
    """For request handlers: short timeouts, two quick retries.

    A retry after a timeout may run the submit script twice; its nonce check makes the
    second run a no-op that reports a duplicate, so a retry never stores a rating twice.
    """
    return _client(
        url,
        cluster,
        socket_timeout=_HOT_PATH_SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=2),
        health_check_interval=0,
    )


def flusher_client(url: str, block_milliseconds: int, cluster: bool = False) -> RedisClient:
    """For the flusher: the socket waits well past the longest BLOCK it sends."""
    return _client(
        url,
        cluster,
        socket_timeout=block_milliseconds / 1000 + 10,
        socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS * 5,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries=3),
    )


def reply_text(value: bytes | str) -> str:
    """A Redis reply as text, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value
