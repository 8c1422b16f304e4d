"""Which shard of the rating buffer a rating goes to (REDIS_SHARDS, keys.py).

The shard follows from what the duplicate checks look at, so that both stay exact in
one round trip: a rating with a portal transaction goes by (service, transaction), so
every form for one transaction meets the same transaction key; any other by its form's
nonce, so a form sent twice meets its own nonce key. (A form sent twice carries the
same nonce and transaction, so it lands on the same shard either way.) CRC-32, not
Python's hash(): every process on every machine must pick the same shard, and random
nonces spread evenly over the shards.

Changing the shard count moves ratings to other shards: a form sent once before and
once after the change meets no nonce key and is stored twice (a transaction's rating is
still stored once: storage has a unique key on it). Drain the old shards before
lowering the count (docs/deployment.md).
"""

from __future__ import annotations

import zlib


def shard_of(service: str, transaction: str, nonce: str, shards: int) -> int:
    """The shard, 0 to shards - 1, of a rating of `service`."""
    if shards == 1:
        return 0
    identity = f"{service}\n{transaction}" if transaction else nonce
    return zlib.crc32(identity.encode()) % shards
