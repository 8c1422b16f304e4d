"""The submit script: duplicate check, rate limit and XADD in one round trip."""

from __future__ import annotations

import time

import msgspec
import pytest

from collector import keys
from collector.buffer import Outcome, RatingBuffer
from collector.errors import ServiceUnavailable
from collector.ids import new_rating_id
from collector.messages import EVENT_DECODER, RatingEvent
from collector.redis_clients import hot_path_client
from collector.runtime import Runtime
from tests.helpers import stream_entries


def event(client_hash: str = "a" * 24, service: str = "demo-passport") -> RatingEvent:
    return RatingEvent(
        id=new_rating_id(),
        service=service,
        rating=5,
        comment="ok",
        language="en",
        channel="web",
        received_at=int(time.time() * 1000),
        client_hash=client_hash,
    )


@pytest.fixture
def buffer(runtime: Runtime) -> RatingBuffer:
    return RatingBuffer(runtime.redis, rate_limit_per_minute=3, nonce_ttl_seconds=60)


async def test_accepted_rating_is_in_the_stream(buffer: RatingBuffer, runtime: Runtime) -> None:
    sent = event()
    result = await buffer.submit(sent, "nonce-1")
    assert result.outcome is Outcome.ACCEPTED
    entries = await stream_entries(runtime.redis, keys.STREAM)
    assert [entry_id.decode() for entry_id, _ in entries] == [result.stream_id]
    assert EVENT_DECODER.decode(entries[0][1][b"e"]) == sent


async def test_same_nonce_is_a_duplicate(buffer: RatingBuffer, runtime: Runtime) -> None:
    assert (await buffer.submit(event(), "n")).outcome is Outcome.ACCEPTED
    assert (await buffer.submit(event(), "n")).outcome is Outcome.DUPLICATE
    assert await runtime.redis.xlen(keys.STREAM) == 1
    ttl = await runtime.redis.pttl(keys.form_nonce("demo-passport", "n"))
    assert 0 < ttl <= 60_000


async def test_rate_limit_per_client_and_service(buffer: RatingBuffer, runtime: Runtime) -> None:
    outcomes = [(await buffer.submit(event(), f"n{n}")).outcome for n in range(4)]
    assert outcomes == [Outcome.ACCEPTED] * 3 + [Outcome.RATE_LIMITED]
    # Another client, and the same client on another service, are not limited.
    assert (await buffer.submit(event("b" * 24), "x1")).outcome is Outcome.ACCEPTED
    assert (await buffer.submit(event(service="other"), "x2")).outcome is Outcome.ACCEPTED
    assert await runtime.redis.xlen(keys.STREAM) == 5


async def test_rate_limited_form_can_be_sent_again_later(
    buffer: RatingBuffer, runtime: Runtime
) -> None:
    for n in range(3):
        await buffer.submit(event(), f"n{n}")
    assert (await buffer.submit(event(), "late")).outcome is Outcome.RATE_LIMITED
    # The refused form's nonce was not consumed: once the window passes it is accepted.
    assert not await runtime.redis.exists(keys.form_nonce("demo-passport", "late"))


async def test_unreachable_redis_raises_service_unavailable() -> None:
    from collector.embedded_redis import free_port

    client = hot_path_client(f"redis://127.0.0.1:{free_port()}/0")
    buffer = RatingBuffer(client, rate_limit_per_minute=3, nonce_ttl_seconds=60)
    with pytest.raises(ServiceUnavailable, match="did not answer"):
        await buffer.submit(event(), "n")
    await client.aclose()


async def test_failed_xadd_does_not_use_up_the_form(buffer: RatingBuffer, runtime: Runtime) -> None:
    await runtime.redis.set(keys.STREAM, "not a stream")  # XADD now fails with WRONGTYPE
    with pytest.raises(ServiceUnavailable, match="WRONGTYPE"):
        await buffer.submit(event(), "n")
    assert not await runtime.redis.exists(keys.form_nonce("demo-passport", "n"))
    await runtime.redis.delete(keys.STREAM)
    assert (await buffer.submit(event(), "n")).outcome is Outcome.ACCEPTED


async def test_nonce_outlives_the_latest_valid_use_of_its_token(runtime: Runtime) -> None:
    # A token issued up to 60 s "in the future" stays valid 60 s past max_age.
    token = runtime.signer.issue("demo-passport")
    nonce = runtime.signer.verify("demo-passport", token).nonce
    await runtime.buffer.submit(event(), nonce)
    ttl = await runtime.redis.pttl(keys.form_nonce("demo-passport", nonce))
    assert ttl > (runtime.settings.form_token_max_age_seconds + 60) * 1000


async def test_one_rating_per_transaction(buffer: RatingBuffer, runtime: Runtime) -> None:
    """Two forms (two nonces) for one transaction: the second is a duplicate."""
    first = msgspec.structs.replace(event(), transaction="APP-1")
    assert (await buffer.submit(first, "n1", 30_000)).outcome is Outcome.ACCEPTED
    again = msgspec.structs.replace(event(), transaction="APP-1")
    assert (await buffer.submit(again, "n2", 30_000)).outcome is Outcome.DUPLICATE
    other = msgspec.structs.replace(event(), transaction="APP-2")
    assert (await buffer.submit(other, "n3", 30_000)).outcome is Outcome.ACCEPTED
    assert await runtime.redis.xlen(keys.STREAM) == 2
    # Remembered as long as the token could be accepted, and no longer.
    ttl = await runtime.redis.pttl(keys.transaction("demo-passport", "APP-1"))
    assert 29_000 < ttl <= 30_000
    # A transaction's duplicate does not use up the client's rate limit.
    assert (await buffer.submit(event(), "n4")).outcome is Outcome.ACCEPTED


async def test_the_same_reference_in_two_services_is_two_transactions(
    buffer: RatingBuffer,
) -> None:
    permit = msgspec.structs.replace(event(service="permits"), transaction="APP-1")
    passport = msgspec.structs.replace(event(), transaction="APP-1")
    assert (await buffer.submit(permit, "n1", 30_000)).outcome is Outcome.ACCEPTED
    assert (await buffer.submit(passport, "n2", 30_000)).outcome is Outcome.ACCEPTED
