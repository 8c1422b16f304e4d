"""Redis clients, configured for what each caller does with them.

redis-py 8 defaults to a 5 s socket timeout and RESP3; both are set explicitly here so
that an upgrade does not change behaviour: the hot path fails fast (a citizen waits),
the flusher's timeout is longer than its blocking XREADGROUP (an idle flusher must not
see a timeout).
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

_HOT_PATH_SOCKET_TIMEOUT_SECONDS = 2.0
_CONNECT_TIMEOUT_SECONDS = 1.0


def hot_path_client(url: str) -> Redis:
    """For request handlers: short timeouts, two quick retries.

    A retry after a timeout may run the submit script twice; its nonce check makes the
    second run a no-op that reports a duplicate, so a retry never stores a rating twice.
    """
    return Redis.from_url(
        url,
        protocol=3,
        socket_timeout=_HOT_PATH_SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=2),
        health_check_interval=0,
    )


def flusher_client(url: str, block_milliseconds: int) -> Redis:
    """For the flusher: the socket waits well past the longest BLOCK it sends."""
    return Redis.from_url(
        url,
        protocol=3,
        socket_timeout=block_milliseconds / 1000 + 10,
        socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS * 5,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries=3),
    )


def reply_text(value: bytes | str) -> str:
    """A Redis reply as text, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value
