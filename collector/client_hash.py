"""Client hashes: the IP address keyed-hashed with a random salt that changes daily.

The salt lives only in Redis and expires after two days, so yesterday's hashes cannot
be linked to an address or to today's hashes; the raw address is never stored.
"""

from __future__ import annotations

import hashlib
import os
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from collector import keys
from collector.errors import ServiceUnavailable

_SALT_BYTES = 32
_SALT_LIFETIME_SECONDS = 2 * 86400


class ClientHasher:
    """Hashes client addresses; fetches each day's salt from Redis once per process."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._day = ""
        self._salt = b""

    async def hash(self, address: str, now: float | None = None) -> str:
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() if now is None else now))
        if day != self._day:
            self._salt = await self._load_salt(day)
            self._day = day
        return hashlib.blake2b(address.encode(), key=self._salt, digest_size=12).hexdigest()

    async def _load_salt(self, day: str) -> bytes:
        candidate = os.urandom(_SALT_BYTES)
        try:
            # SET NX GET: the first process of the day creates the salt, all others read it.
            existing = await self._redis.set(
                keys.client_salt(day), candidate, nx=True, get=True, ex=_SALT_LIFETIME_SECONDS
            )
        except (RedisError, OSError) as error:
            raise ServiceUnavailable(f"the rating buffer did not answer: {error}") from None
        return existing if isinstance(existing, bytes) else candidate
