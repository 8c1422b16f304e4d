"""Storage of portal transactions and signing keys, over every backend."""

from __future__ import annotations

import pytest

from collector.sealed_secrets import SecretSealer
from collector.signing_keys import SigningKey
from collector.storage import RecordRejected, Storage, open_storage
from tests.helpers import stored_rating as rating
from tests.old_schema import query
from tests.portal_tokens import ED25519_PRIVATE, public_pem

SECRET = "portal-secret-0123456789-abcdefghij"
PUBLIC_KEY = public_pem(ED25519_PRIVATE)


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
    revoked = await storage.revoke_signing_key("t1", "old", 300)
    assert revoked == key("old", revoked_at=300)
    # Revoking again keeps the first time.
    assert await storage.revoke_signing_key("t1", "old", 400) == key("old", revoked_at=300)
    assert await storage.revoke_signing_key("t1", "missing", 400) is None
    assert await storage.list_signing_keys() == [
        key("old", revoked_at=300),
        key("new", created_at=200),
    ]


async def test_a_kid_is_unique_within_its_tenant_and_needs_it(storage: Storage) -> None:
    await storage.save_tenant("t1", "Agency")
    await storage.save_signing_key(key("k1"))
    with pytest.raises(RecordRejected):
        await storage.save_signing_key(key("k1", material="another"))
    with pytest.raises(RecordRejected):
        await storage.save_signing_key(key("k2", tenant="no-such-tenant"))
    with pytest.raises(RecordRejected):
        await storage.save_signing_key(key("k3", algorithm="HS384"))
    assert [k.kid for k in await storage.list_signing_keys()] == ["k1"]


async def test_tenants_may_use_the_same_kid_each_for_its_own_key(storage: Storage) -> None:
    await storage.save_tenant("t1", "Agency")
    await storage.save_tenant("t2", "Other agency")
    await storage.save_signing_key(key("portal-1"))
    await storage.save_signing_key(key("portal-1", tenant="t2", material="t2's secret"))
    assert await storage.revoke_signing_key("t2", "portal-1", 300) == key(
        "portal-1", tenant="t2", material="t2's secret", revoked_at=300
    )
    assert await storage.list_signing_keys() == [
        key("portal-1"),
        key("portal-1", tenant="t2", material="t2's secret", revoked_at=300),
    ]


async def test_hs256_secrets_are_sealed_in_the_database(storage: Storage, storage_url: str) -> None:
    await storage.save_tenant("t1", "Agency")
    await storage.save_signing_key(key("hs", material=SECRET))
    await storage.save_signing_key(
        key("ed", algorithm="EdDSA", material=PUBLIC_KEY, created_at=200)
    )
    assert [k.material for k in await storage.list_signing_keys()] == [SECRET, PUBLIC_KEY]
    rows = await query(storage_url, "SELECT kid, material FROM signing_keys")
    stored = {str(kid): str(material) for kid, material in rows}
    assert str(stored["hs"]).startswith("sealed-v1:")
    assert SECRET not in str(stored["hs"])
    assert stored["ed"] == PUBLIC_KEY  # a public key signs nothing
    # Another COLLECTOR_SECRET opens nothing: the key comes out unusable.
    other = open_storage(storage_url, SecretSealer("another-secret-" + "x" * 32))
    try:
        assert [k.material for k in await other.list_signing_keys()] == ["", PUBLIC_KEY]
    finally:
        await other.close()


async def test_without_a_sealer_no_secret_is_stored(storage_url: str) -> None:
    unsealed = open_storage(storage_url)
    try:
        await unsealed.migrate()
        await unsealed.save_tenant("t1", "Agency")
        with pytest.raises(ValueError, match="without a sealer"):
            await unsealed.save_signing_key(key("hs"))
        assert await unsealed.list_signing_keys() == []
    finally:
        await unsealed.close()


async def test_tenants_are_listed(storage: Storage) -> None:
    await storage.save_tenant("b", "Second")
    await storage.save_tenant("a", "First")
    assert [(t.id, t.name) for t in await storage.list_tenants()] == [
        ("a", "First"),
        ("b", "Second"),
    ]
