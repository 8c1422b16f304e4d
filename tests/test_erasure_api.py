"""DELETE /api/v1/admin/services/{service}/transactions/{reference}, through HTTP."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from collector import erasure_api
from collector.buffer import Outcome
from collector.flusher import Flusher
from collector.runtime import Runtime
from collector.storage.base import CommentQuery
from tests.conftest import make_flusher
from tests.helpers import bearer, event

ADMIN = "/api/v1/admin"


def _token(runtime: Runtime, role: str = "admin", tenant: str = "demo") -> dict[str, str]:
    return bearer(runtime.analyst_tokens.issue(tenant, role=role))  # type: ignore[arg-type]


async def _rate(runtime: Runtime, transaction: str, service: str = "demo-passport") -> None:
    rated = msgspec.structs.replace(
        event(1, comment="my phone is 555"), transaction=transaction, service=service
    )
    result = await runtime.buffer.submit(rated, f"nonce-{service}-{transaction}", 3_600_000)
    assert result.outcome is Outcome.ACCEPTED


async def _stored(runtime: Runtime, service: str = "demo-passport") -> list[str | None]:
    query = CommentQuery(services=(service,), with_comment=False)
    return [row.transaction_ref for row in await runtime.storage.comments(query)]


async def test_an_admin_erases_a_flushed_and_an_unflushed_rating(
    runtime: Runtime, flusher: Flusher, client: httpx.AsyncClient
) -> None:
    await _rate(runtime, "txn-1")
    await flusher.process(await flusher.read_new(block=False), redelivered=False)
    await _rate(runtime, "txn-2")  # still in the stream
    await _rate(runtime, "txn-3")

    flushed = await client.delete(
        f"{ADMIN}/services/demo-passport/transactions/txn-1", headers=_token(runtime)
    )
    unflushed = await client.delete(
        f"{ADMIN}/services/demo-passport/transactions/txn-2", headers=_token(runtime)
    )

    assert (flushed.status_code, flushed.json()) == (
        200,
        {
            "service": "demo-passport",
            "transaction": "txn-1",
            "stream_entries": 1,
            "dead_letters": 0,
            "stored_ratings": 1,
        },
    )
    assert unflushed.json()["stream_entries"] == 1
    assert unflushed.json()["stored_ratings"] == 0
    assert await flusher.run_once(block=False) == 1
    assert await _stored(runtime) == ["txn-3"]
    again = await client.delete(
        f"{ADMIN}/services/demo-passport/transactions/txn-1", headers=_token(runtime)
    )
    assert [again.json()[name] for name in ("stream_entries", "stored_ratings")] == [0, 0]


@pytest.mark.parametrize(
    ("role", "tenant", "slug", "status"),
    [
        ("admin", "demo", "permits", 404),  # another tenant's service: as if missing
        ("admin", "demo", "nowhere", 404),
        ("analyst", "city-hall", "permits", 403),
        ("admin", "city-hall", "permits", 200),
        ("platform", "*", "permits", 200),
    ],
)
async def test_only_the_services_tenant_or_the_platform_may_erase(
    city: Runtime,
    flusher: Flusher,
    client: httpx.AsyncClient,
    role: str,
    tenant: str,
    slug: str,
    status: int,
) -> None:
    await _rate(city, "txn-1", "permits")
    await flusher.process(await flusher.read_new(block=False), redelivered=False)

    response = await client.delete(
        f"{ADMIN}/services/{slug}/transactions/txn-1", headers=_token(city, role, tenant)
    )

    assert response.status_code == status, response.text
    assert await _stored(city, "permits") == ([] if status == 200 else ["txn-1"])
    if status == 404:
        assert response.json() == {
            "status": 404,
            "error": "not_found",
            "detail": f"no service {slug!r} in your tenant",
            "field": "service",
        }


async def test_no_token_is_401_and_a_bad_reference_400(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    path = f"{ADMIN}/services/demo-passport/transactions"
    assert (await client.delete(f"{path}/txn-1")).status_code == 401
    too_long = await client.delete(f"{path}/{'x' * 129}", headers=_token(runtime))
    assert (too_long.status_code, too_long.json()["field"]) == (400, "reference")


async def test_a_flusher_holding_the_rating_makes_it_503_until_released(
    runtime: Runtime, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(erasure_api, "_WAIT_SECONDS", 0.0)
    await _rate(runtime, "txn-1")
    holder = make_flusher(runtime, "holder")
    await holder.ensure_group()
    assert len(await holder.read_new(block=False)) == 1
    await holder.close()  # dies holding it
    path = f"{ADMIN}/services/demo-passport/transactions/txn-1"

    held = await client.delete(path, headers=_token(runtime))

    assert (held.status_code, held.json()["error"]) == (503, "service_unavailable")
    assert "the flusher 'holder' still holds the rating" in held.json()["detail"]
    survivor = make_flusher(runtime, "survivor", claim_idle_milliseconds=0)
    assert await survivor.claim_abandoned() == 0  # deleted: dropped, nothing to store
    await survivor.close()
    done = await client.delete(path, headers=_token(runtime))
    assert done.status_code == 200
    assert [done.json()[name] for name in ("stream_entries", "stored_ratings")] == [0, 0]
    assert await _stored(runtime) == []
