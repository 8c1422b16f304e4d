"""Redis clients, configured for what each caller does with them.

redis-py 8 defaults to a 5 s socket timeout and RESP3; both are set explicitly here so
that an upgrade does not change behaviour: the hot path fails fast (a citizen waits),
the flusher's timeout is longer than its blocking XREADGROUP (an idle flusher must not
see a timeout).

With REDIS_CLUSTER on, the same options go to redis-py's cluster client, which finds
the other nodes from the one the URL names and sends each command to the node that
holds its key's slot (collector/keys.py keeps every multi-key operation in one slot).

Neither client re-sends a command (redis-py 8 otherwise re-sends up to three times
when a connection dies or times out). A command whose connection died may have run:
the server can run it and exit, or the reply can be lost on the way. Re-sent, a
non-idempotent command runs twice or answers differently: XREADGROUP `>` marks the
entries delivered and the second read returns only later ones, the acknowledgement
and HINCRBY counters add twice, SET NX answers "taken". So every caller gets the error
and decides, knowing what it sent; each call site says why its own way of trying again
is safe. Redirections on a cluster (MOVED, ASK, TRYAGAIN) are still followed: the node
refused those commands without running them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.maint_notifications import MaintNotificationsConfig

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


def _never_resend() -> Retry:
    """One try per command, connection included: the caller decides what comes next."""
    return Retry(NoBackoff(), retries=0)


def _client(url: str, cluster: bool, **options: Any) -> RedisClient:
    # Without maintenance notifications (a Redis Cloud feature), the pool checks an idle
    # connection for the server's close before it hands it out, and replaces a dead one
    # left by a restart; with them on, redis-py skips that check and counts on
    # re-sending. (A cluster's node pools never check: the first command on a dead
    # connection fails, and the client then drops that node's idle connections.)
    options["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
    if cluster:
        return RedisCluster.from_url(url, protocol=3, **options)
    return Redis.from_url(url, protocol=3, **options)


def hot_path_client(url: str, cluster: bool = False) -> RedisClient:
    """For request handlers and the serving process's background loops: short
    timeouts, no re-send.

    The submit script alone would be safe to re-send for what it stores (its nonce
    check makes a second run a no-op), but that second run answers "duplicate", which
    the widget counts as a refusal; and this client also adds to the rejection counters
    and pushes impressions with HINCRBY, which a re-send doubles. A lost reply gets the
    spool or the "not saved" page instead, as when Redis is down; the spool's replay,
    and a citizen sending the form again, meet the nonce check.
    """
    return _client(
        url,
        cluster,
        socket_timeout=_HOT_PATH_SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        retry=_never_resend(),
        health_check_interval=0,
    )


def flusher_client(url: str, block_milliseconds: int, cluster: bool = False) -> RedisClient:
    """For the flusher (and erasure, impressions of `collector flush`): the socket
    waits well past the longest BLOCK it sends; no re-send. After an error the
    flusher reads its own pending entries again before new ones (collector/flusher.py)."""
    return _client(
        url,
        cluster,
        socket_timeout=block_milliseconds / 1000 + 10,
        socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS * 5,
        retry=_never_resend(),
    )


def reply_text(value: bytes | str) -> str:
    """A Redis reply as text, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value
