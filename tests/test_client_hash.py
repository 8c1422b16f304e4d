"""Client hashes: stable within a day, unlinkable across days, never the address."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from collector import keys
from collector.client_hash import ClientHasher, forget_expired_salts, view_address
from collector.embedded_redis import EmbeddedRedis
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
    assert await runtime.redis.ttl(keys.client_salt("2026-01-05")) > 0
    for key in await runtime.redis.keys("*"):
        assert b"198.51.100.4" not in key
        if await runtime.redis.type(key) == b"string":
            assert b"198.51.100.4" not in (await runtime.redis.get(key) or b"")


async def test_salt_expires_an_hour_after_its_day(runtime: Runtime) -> None:
    # 23:59:59.5 on Monday: the salt of Monday, for half a second and an hour.
    await ClientHasher(runtime.redis).hash("198.51.100.4", now=TUESDAY - 0.5)
    remaining = await runtime.redis.pttl(keys.client_salt("2026-01-05"))
    assert 3_600_500 - 1_000 < remaining <= 3_600_500
    assert await runtime.redis.exists(keys.client_salt("2026-01-06")) == 0


async def test_view_hash_cannot_be_linked_to_the_rate_limit_hash(runtime: Runtime) -> None:
    hasher = ClientHasher(runtime.redis)
    await hasher.load_view_salt(MONDAY + 10)
    rate_limit_hash = await hasher.hash("198.51.100.4", now=MONDAY + 10)
    view_hash = hasher.view_hash("198.51.100.4")
    assert view_hash != rate_limit_hash
    rate_salt = await runtime.redis.get(keys.client_salt("2026-01-05"))
    view_salt = await runtime.redis.get(keys.view_salt("2026-01-05"))
    assert rate_salt is not None
    assert view_salt is not None
    assert rate_salt != view_salt


async def test_workers_share_the_day_view_salt(runtime: Runtime) -> None:
    one, two = ClientHasher(runtime.redis), ClientHasher(runtime.redis)
    for hasher in (one, two):
        await hasher.load_view_salt(MONDAY)
    assert one.view_hash("198.51.100.4") == two.view_hash("198.51.100.4")
    await one.load_view_salt(TUESDAY)
    assert one.view_hash("198.51.100.4") != two.view_hash("198.51.100.4")


async def test_view_salt_expires_an_hour_after_its_day(runtime: Runtime) -> None:
    await ClientHasher(runtime.redis).load_view_salt(TUESDAY - 0.5)
    remaining = await runtime.redis.pttl(keys.view_salt("2026-01-05"))
    assert 3_600_500 - 1_000 < remaining <= 3_600_500
    assert await runtime.redis.exists(keys.view_salt("2026-01-06")) == 0


def test_views_are_hashed_per_ipv6_network() -> None:
    assert view_address("2001:db8:1:2::1") == view_address("2001:db8:1:2:ffff:1:2:3")
    assert view_address("2001:db8:1:2::1") != view_address("2001:db8:1:3::1")
    # An IPv4 client seen through an IPv6 socket is that IPv4 client, not a network.
    assert view_address("::ffff:198.51.100.4") == view_address("198.51.100.4")
    assert view_address("::ffff:198.51.100.4") != view_address("::ffff:198.51.100.5")
    assert view_address("fe80::1%eth0") == view_address("fe80::2")
    assert view_address("not an address") == b"not an address"


async def test_forgetting_rewrites_expired_salts_out_of_the_aof(
    private_redis: EmbeddedRedis,
) -> None:
    client = Redis.from_url(private_redis.url)
    salt, view_salt = b"old-salt-" + b"s" * 23, b"old-view-salt-" + b"v" * 18
    await client.set(keys.client_salt("2026-01-04"), salt, px=30)
    await client.set(keys.view_salt("2026-01-04"), view_salt, px=30)
    await client.set("kept", b"still-here")
    aof_files = private_redis.directory / "appendonlydir"
    contents = b"".join(path.read_bytes() for path in aof_files.iterdir())
    assert salt in contents
    assert view_salt in contents
    await asyncio.sleep(0.05)  # the salts expire
    await forget_expired_salts(client)
    contents = b"".join(path.read_bytes() for path in aof_files.iterdir())
    assert salt not in contents
    assert view_salt not in contents
    assert await client.get("kept") == b"still-here"
    await client.aclose()
