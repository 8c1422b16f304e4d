"""Storage of portal transactions and signing keys, over every backend."""

from __future__ import annotations

import pytest

from collector.signing_keys import SigningKey
from collector.storage import RecordRejected, Storage
from tests.helpers import stored_rating as rating


async def test_one_rating_per_transaction_across_batches(storage: Storage) -> None:
    assert await storage.store([rating(1, transaction="APP-1", stars=5)]) == 1
    # Another rating of the same transaction (another id): not stored, not counted.
    assert await storage.store([rating(2, transaction="APP-1", stars=1), rating(3)]) == 1
    assert await storage.count_ratings() == 2
    figures = await storage.summary("svc", None, None)
    assert (figures.count, figures.stars) == (2, (0, 0, 0, 1, 1))


async def test_one_rating_per_transaction_within_a_batch(storage: Storage) -> None:
    batch = [rating(7, transaction="APP-9"), rating(3, transaction="APP-9", stars=1)]
    assert await storage.store(batch) == 1
    figures = await storage.summary("svc", None, None)
    assert figures.stars == (1, 0, 0, 0, 0)  # the earliest id (3) was kept


async def test_a_reference_is_per_service_and_ratings_without_one_are_many(
    storage: Storage,
) -> None:
    batch = [
        rating(1, transaction="APP-1"),
        rating(2, transaction="APP-1", service="other"),
        rating(3),
        rating(4),
    ]
    assert await storage.store(batch) == 4


async def test_answer_times_are_summed_in_the_rollups(storage: Storage) -> None:
    await storage.store(
        [
            rating(1, transaction="A", answer_seconds=3600, office="north"),
            rating(2, transaction="B", answer_seconds=7200),
            rating(3),  # no case timestamps
        ]
    )
    figures = await storage.summary("svc", None, None)
    assert (figures.count, figures.answered, figures.answer_seconds_sum) == (3, 2, 10800)


def key(kid: str, tenant: str = "t1", **changes: object) -> SigningKey:
    fields: dict[str, object] = {
        "kid": kid,
        "tenant_id": tenant,
        "algorithm": "HS256",
        "material": f"secret-of-{kid}",
        "created_at": 100,
    }
    fields.update(changes)
    return SigningKey(**fields)  # type: ignore[arg-type]


async def test_signing_keys_are_added_listed_and_revoked(storage: Storage) -> None:
    await storage.save_tenant("t1", "Agency")
    await storage.save_signing_key(key("old"))
    await storage.save_signing_key(key("new", created_at=200))
    assert [k.kid for k in await storage.list_signing_keys()] == ["old", "new"]
    revoked = await storage.revoke_signing_key("old", 300)
    assert revoked == key("old", revoked_at=300)
    # Revoking again keeps the first time.
    assert await storage.revoke_signing_key("old", 400) == key("old", revoked_at=300)
    assert await storage.revoke_signing_key("missing", 400) is None
    assert await storage.list_signing_keys() == [
        key("old", revoked_at=300),
        key("new", created_at=200),
    ]


async def test_a_kid_is_unique_and_needs_its_tenant(storage: Storage) -> None:
    await storage.save_tenant("t1", "Agency")
    await storage.save_signing_key(key("k1"))
    with pytest.raises(RecordRejected):
        await storage.save_signing_key(key("k1", material="another"))
    with pytest.raises(RecordRejected):
        await storage.save_signing_key(key("k2", tenant="no-such-tenant"))
    with pytest.raises(RecordRejected):
        await storage.save_signing_key(key("k3", algorithm="HS384"))
    assert [k.kid for k in await storage.list_signing_keys()] == ["k1"]


async def test_tenants_are_listed(storage: Storage) -> None:
    await storage.save_tenant("b", "Second")
    await storage.save_tenant("a", "First")
    assert [(t.id, t.name) for t in await storage.list_tenants()] == [
        ("a", "First"),
        ("b", "Second"),
    ]
