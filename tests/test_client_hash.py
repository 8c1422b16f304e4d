"""Client hashes: stable within a day, unlinkable across days, never the address."""

from __future__ import annotations

from collector import keys
from collector.client_hash import ClientHasher
from collector.runtime import Runtime

MONDAY = 1_767_571_200.0  # 2026-01-05T00:00:00Z
TUESDAY = MONDAY + 86_400


async def test_same_address_same_day_same_hash(runtime: Runtime) -> None:
    hasher = ClientHasher(runtime.redis)
    first = await hasher.hash("198.51.100.4", now=MONDAY + 10)
    assert first == await hasher.hash("198.51.100.4", now=MONDAY + 80_000)
    assert first != await hasher.hash("198.51.100.5", now=MONDAY + 10)
    assert len(first) == 24
    assert "198" not in first


async def test_next_day_hash_differs(runtime: Runtime) -> None:
    hasher = ClientHasher(runtime.redis)
    assert await hasher.hash("198.51.100.4", now=MONDAY) != await hasher.hash(
        "198.51.100.4", now=TUESDAY
    )


async def test_workers_share_the_day_salt(runtime: Runtime) -> None:
    one, two = ClientHasher(runtime.redis), ClientHasher(runtime.redis)
    assert await one.hash("2001:db8::1", now=MONDAY) == await two.hash("2001:db8::1", now=MONDAY)


async def test_salt_expires_and_address_is_not_stored(runtime: Runtime) -> None:
    await ClientHasher(runtime.redis).hash("198.51.100.4", now=MONDAY)
    ttl = await runtime.redis.ttl(keys.client_salt("2026-01-05"))
    assert 0 < ttl <= 2 * 86_400
    for key in await runtime.redis.keys("*"):
        assert b"198.51.100.4" not in key
        if await runtime.redis.type(key) == b"string":
            assert b"198.51.100.4" not in (await runtime.redis.get(key) or b"")
