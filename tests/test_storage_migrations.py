"""Migrations of data an older collector stored, over every backend."""

from __future__ import annotations

from dataclasses import replace

import jwt
import pytest

from collector.runtime import Runtime
from collector.sealed_secrets import SecretSealer, is_sealed
from collector.settings import Settings
from collector.signing_keys import SigningKey
from collector.storage import open_storage
from collector.storage.sqlite import sqlite_path
from collector.transaction_token import TokenRefusal, TransactionTokenError
from tests.helpers import DAY_ONE
from tests.old_schema import columns, execute, is_sqlite, query, write_old_database
from tests.portal_tokens import claims

OLD_RATINGS = 200


def old_hash(number: int) -> str:
    return f"c11e47{number:018d}"


def old_rating(number: int) -> tuple[str, tuple[object, ...]]:
    """A rating with its client hash, as the flusher wrote it before the hash left."""
    return (
        "INSERT INTO ratings (id, service, rating, comment, language, channel, received_at, "
        "client_hash, device_class, os_family, browser_family, is_bot, stored_at) "
        "VALUES (?, 'svc', 4, '', 'en', 'web', ?, ?, 'mobile', 'Android', 'Chrome', ?, 0)",
        (f"old-{number:05d}", DAY_ONE + number, old_hash(number), False),
    )


async def test_client_hashes_leave_storage_and_the_ratings_stay(storage_url: str) -> None:
    await write_old_database(storage_url, [old_rating(n) for n in range(OLD_RATINGS)])
    assert "client_hash" in await columns(storage_url, "ratings")
    storage = open_storage(storage_url)
    try:
        await storage.migrate()
        assert await storage.count_ratings() == OLD_RATINGS
        assert "client_hash" not in await columns(storage_url, "ratings")
    finally:
        await storage.close()
    if is_sqlite(storage_url):
        # Zeroed, not left in the file's free pages or in the WAL.
        path = sqlite_path(storage_url)
        files = [path, path.with_name(path.name + "-wal")]
        contents = b"".join(file.read_bytes() for file in files if file.exists())
        assert b"c11e47" not in contents


OLD_SECRET = "portal-secret-stored-in-clear-0123456789"
OTHER_SECRET = "a-collector-secret-that-is-not-the-one-used-0123"
OLD_ROWS = [
    ("INSERT INTO tenants (id, name, created_at) VALUES ('city-hall', 'City hall', 1)", ()),
    (
        "INSERT INTO services (slug, tenant_id, name, created_at) "
        "VALUES ('permits', 'city-hall', 'Permits', 1)",
        (),
    ),
    (
        "INSERT INTO signing_keys (kid, tenant_id, algorithm, material, created_at) "
        "VALUES ('portal-1', 'city-hall', 'HS256', ?, 1)",
        (OLD_SECRET,),
    ),
]


def portal_token(secret: str | bytes) -> str:
    payload = claims(iss="city-hall", svc="permits")
    return jwt.encode(payload, secret, algorithm="HS256", headers={"kid": "portal-1"})


async def refusal(settings: Settings, token: str) -> TokenRefusal | None:
    """What a collector started with these settings says of the token (None: accepted)."""
    runtime = await Runtime.open(settings)
    try:
        service = runtime.services.get("permits")
        assert service is not None
        runtime.transactions.verify(token, service)
    except TransactionTokenError as error:
        return error.refusal
    finally:
        await runtime.close()
    return None


async def stored_material(url: str) -> str:
    (row,) = await query(url, "SELECT material FROM signing_keys")
    return str(row[0])


async def test_a_secret_stored_in_clear_is_sealed_at_start_and_still_verifies(
    storage_url: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await write_old_database(storage_url, OLD_ROWS)
    started = replace(settings, database_url=storage_url)
    assert await refusal(started, portal_token(OLD_SECRET)) is None
    sealed = await stored_material(storage_url)
    assert is_sealed(sealed)
    assert OLD_SECRET not in sealed
    if is_sqlite(storage_url):
        path = sqlite_path(storage_url)
        files = [path, path.with_name(path.name + "-wal")]
        assert OLD_SECRET.encode() not in b"".join(f.read_bytes() for f in files if f.exists())
    # Started again: sealed once, left as it is.
    assert await refusal(started, portal_token(OLD_SECRET)) is None
    assert await stored_material(storage_url) == sealed
    # Whoever has the database only cannot sign: not with the stored bytes...
    assert await refusal(started, portal_token(sealed)) is TokenRefusal.BAD_SIGNATURE
    # ...nor does a collector with another COLLECTOR_SECRET accept the portal's tokens.
    elsewhere = replace(started, secret=OTHER_SECRET)
    assert await refusal(elsewhere, portal_token(OLD_SECRET)) is TokenRefusal.UNKNOWN_KEY
    assert await stored_material(storage_url) == sealed
    assert "the HS256 secrets of portal-1 of city-hall were sealed with another" in caplog.text


async def test_after_a_secret_rotation_the_previous_secret_opens_and_reseals(
    storage_url: str, settings: Settings
) -> None:
    await write_old_database(storage_url, OLD_ROWS)
    before = replace(settings, database_url=storage_url)
    assert await refusal(before, portal_token(OLD_SECRET)) is None
    sealed = await stored_material(storage_url)
    rotated = replace(before, secret=OTHER_SECRET, previous_secret=before.secret)
    assert await refusal(rotated, portal_token(OLD_SECRET)) is None
    assert await stored_material(storage_url) != sealed
    # Sealed with the new secret now: the previous one is no longer needed...
    after = replace(rotated, previous_secret="")
    assert await refusal(after, portal_token(OLD_SECRET)) is None
    # ...and no longer opens it.
    assert await refusal(before, portal_token(OLD_SECRET)) is TokenRefusal.UNKNOWN_KEY


PLANTED_SECRET = "a-secret-someone-wrote-into-the-table-0123456789"


async def test_a_secret_written_in_clear_after_the_first_start_stays_refused(
    storage_url: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await write_old_database(storage_url, OLD_ROWS[:2])  # a tenant and a service, no key
    started = replace(settings, database_url=storage_url)
    runtime = await Runtime.open(started)
    try:
        # Someone able to write a row plants an HS256 secret of their own, in clear.
        await execute(storage_url, OLD_ROWS[2][0], (PLANTED_SECRET,))
        service = runtime.services.get("permits")
        assert service is not None
        for _ in range(2):
            await runtime.reload_keys()
            with pytest.raises(TransactionTokenError) as refused:
                runtime.transactions.verify(portal_token(PLANTED_SECRET), service)
            assert refused.value.refusal is TokenRefusal.UNKNOWN_KEY
    finally:
        await runtime.close()
    # Said once, naming the key and its tenant, never the value.
    said = [r.getMessage() for r in caplog.records if "stored in clear" in r.getMessage()]
    assert said == [
        "the HS256 secret of key 'portal-1' of tenant 'city-hall' is stored in clear, which "
        "no collector does since secrets are sealed: its tokens are refused. Revoke the "
        "key and add a new one"
    ]
    assert PLANTED_SECRET not in caplog.text
    # A later start does not seal it: the sealing of secrets in clear was done once.
    assert await refusal(started, portal_token(PLANTED_SECRET)) is TokenRefusal.UNKNOWN_KEY
    assert await stored_material(storage_url) == PLANTED_SECRET


async def test_a_kid_becomes_unique_per_tenant(storage_url: str) -> None:
    await write_old_database(storage_url, OLD_ROWS)
    storage = open_storage(storage_url, SecretSealer(OTHER_SECRET))
    try:
        await storage.migrate()
        await storage.save_tenant("elsewhere", "Another agency")
        same_kid = SigningKey(
            kid="portal-1", tenant_id="elsewhere", algorithm="HS256", material="x", created_at=2
        )
        await storage.save_signing_key(same_kid)
        keys = await storage.list_signing_keys()
        assert [(k.tenant_id, k.kid, k.material) for k in keys] == [
            ("city-hall", "portal-1", OLD_SECRET),
            ("elsewhere", "portal-1", "x"),
        ]
    finally:
        await storage.close()
