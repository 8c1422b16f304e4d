"""Liveness and readiness."""

from __future__ import annotations

from dataclasses import replace

import httpx

from collector.embedded_redis import EmbeddedRedis
from collector.runtime import Runtime
from collector.settings import Settings
from tests.helpers import asgi_transport


async def test_health_says_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_ready_checks_redis_and_storage(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ok", "redis": "ok", "storage": "ok", "stream_length": 0, "consumer_lag": 0},
    )


async def test_not_ready_while_redis_is_down(
    settings: Settings, private_redis: EmbeddedRedis
) -> None:
    runtime = await Runtime.open(replace(settings, redis_url=private_redis.url))
    transport = asgi_transport(runtime)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/health/ready")).status_code == 200
            private_redis.stop()
            response = await client.get("/health/ready")
            private_redis.start()
            assert (await client.get("/health/ready")).status_code == 200
    finally:
        await runtime.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["redis"].startswith("unavailable")
    assert body["storage"] == "ok"


async def test_openapi_schema_lists_the_summary(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/services/{service}/summary" in schema["paths"]


async def test_api_responses_carry_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/health", "/api/v1/services/demo-passport/summary", "/api/v1/nothing"):
        headers = (await client.get(path)).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert "camera=()" in headers["permissions-policy"]
        assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    schema = await client.get("/schema/openapi.json")
    assert schema.headers["x-content-type-options"] == "nosniff"


async def test_head_health_answers_without_a_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/health")
    assert (response.status_code, response.content) == (200, b"")
