"""Client hashes: the IP address keyed-hashed with a random salt that changes daily.

Two salts a day: one for rate limits (hash), one for counting widget views
(view_hash), so that a view key cannot be linked to the rate-limit key of the same
client. Each lives only in Redis and expires an hour after its UTC day ends, so
yesterday's hashes cannot be linked to an address or to today's hashes; the raw
address is never stored. An expired key's value stays in the AOF file until the file
is rewritten, so the embedded server's AOF is rewritten daily after the old salts
expired (forget_expired_salts_daily); an external Redis needs the same from its operator.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable

from redis.exceptions import RedisError, ResponseError

from collector import keys
from collector.errors import ServiceUnavailable
from collector.redis_clients import RedisClient

logger = logging.getLogger(__name__)

_SALT_BYTES = 32
# Kept an hour past the day's end: a process that fetched the salt at 23:59 still
# finds the same salt if it asks again, and rate limits stay per client.
_SALT_GRACE_SECONDS = 3600
_REWRITE_AT_SECONDS_AFTER_MIDNIGHT = _SALT_GRACE_SECONDS + 1800
# A phone's IPv6 privacy addresses change within its /64 (RFC 8981), and a /64 is the
# least a network hands one subscriber: one viewer, not one per address it can take.
_VIEW_NETWORK_BYTES = 8


_IPV4_MAPPED = bytes(10) + b"\xff\xff"


def view_address(address: str) -> bytes:
    """What a view hash is computed from: an IPv6 address's /64, any other address
    (IPv4, IPv4 mapped into IPv6, or what a proxy said) as it is."""
    if ":" not in address:
        return address.encode()
    try:
        # inet_pton, not ipaddress: a tenth of the cost on the hot path.
        packed = socket.inet_pton(socket.AF_INET6, address.partition("%")[0])
    except OSError:
        return address.encode()
    if packed.startswith(_IPV4_MAPPED):
        return socket.inet_ntop(socket.AF_INET, packed[12:]).encode()
    return b"/64:" + packed[:_VIEW_NETWORK_BYTES]


class ClientHasher:
    """Hashes client addresses; fetches each day's salt from Redis once per process."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._day = ""
        self._salt = b""
        self._view_day = ""
        self._view_salt = b""
        # Only for views counted before this process first had the day's salt: never
        # stored, so those hashes link to nothing once the process ends.
        self._own_salt = os.urandom(_SALT_BYTES)

    async def hash(self, address: str, now: float | None = None) -> str:
        await self.load_salt(now)
        return hashlib.blake2b(address.encode(), key=self._salt, digest_size=12).hexdigest()

    async def load_salt(self, now: float | None = None) -> None:
        """Fetch the day's salt unless this process has it (one Redis call a day)."""
        moment = time.time() if now is None else now
        day = time.strftime("%Y-%m-%d", time.gmtime(moment))
        if day != self._day:
            self._salt = await self._load_salt(keys.client_salt, day, moment)
            self._day = day

    async def load_view_salt(self, now: float) -> None:
        """Fetch the day's view salt unless this process has it (one call a day)."""
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        if day != self._view_day:
            self._view_salt = await self._load_salt(keys.view_salt, day, now)
            self._view_day = day

    def view_hash(self, address: str) -> str:
        """The client's view hash without waiting on Redis, for counting widget views
        once per client: with the last view salt fetched (the impression counter
        fetches each day's), or this process's own salt before the first fetch."""
        salt = self._view_salt or self._own_salt
        return hashlib.blake2b(view_address(address), key=salt, digest_size=12).hexdigest()

    async def _load_salt(self, salt_key: Callable[[str], str], day: str, moment: float) -> bytes:
        candidate = os.urandom(_SALT_BYTES)
        # Until an hour after the salt's own day ends, counted from `moment`: at 23:59:59
        # a second clock read could fall in the next day and keep the salt a day longer.
        end_of_day = (int(moment) // 86400 + 1) * 86400
        lifetime_milliseconds = int((end_of_day + _SALT_GRACE_SECONDS - moment) * 1000)
        try:
            # SET NX GET: the first process of the day creates the salt, all others read it.
            # Not re-sent by the client; a request that fails here gets the 503 page, and
            # the next one asks again and reads whichever salt was set.
            existing = await self._redis.set(
                salt_key(day),
                candidate,
                nx=True,
                get=True,
                px=lifetime_milliseconds,
            )
        except (RedisError, OSError) as error:
            raise ServiceUnavailable(f"the rating buffer did not answer: {error}") from None
        return existing if isinstance(existing, bytes) else candidate


async def forget_expired_salts(redis: RedisClient, timeout_seconds: float = 300.0) -> None:
    """Rewrite the AOF, which drops expired keys (old salts) from the files on disk."""
    # Run again after an error, BGREWRITEAOF answers "already in progress" or rewrites
    # once more: harmless either way; INFO only reads.
    try:
        await redis.bgrewriteaof()
    except ResponseError as error:
        if "already in progress" not in str(error):
            raise
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        persistence = await redis.info("persistence")
        if not persistence["aof_rewrite_in_progress"] and not persistence["aof_rewrite_scheduled"]:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the AOF rewrite did not finish in time")


async def forget_expired_salts_daily(redis: RedisClient) -> None:
    """Once at start, then every day after the previous day's salt has expired."""
    while True:
        try:
            await forget_expired_salts(redis)
        except (RedisError, OSError, TimeoutError) as error:
            logger.warning("could not rewrite the AOF to forget old salts: %s", error)
        now = time.time()
        next_run = (int(now) // 86400) * 86400 + _REWRITE_AT_SECONDS_AFTER_MIDNIGHT
        if next_run <= now:
            next_run += 86400
        await asyncio.sleep(next_run - now)
