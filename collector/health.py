"""Liveness (/health: the process answers) apart from readiness (/health/ready)."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from redis.exceptions import RedisError

from collector.runtime import Runtime
from collector.storage import StorageError


@get("/health", summary="The process is up")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/health/ready", summary="Redis and storage answer")
async def ready(runtime: NamedDependency[Runtime]) -> Response[dict[str, str]]:
    checks = {"redis": "ok", "storage": "ok"}
    try:
        await runtime.redis.ping()
    except (RedisError, OSError) as error:
        checks["redis"] = f"unavailable: {type(error).__name__}"
    try:
        await runtime.storage.ping()
    except StorageError as error:
        checks["storage"] = f"unavailable: {type(error).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return Response(
        {"status": "ok" if healthy else "unavailable", **checks},
        status_code=200 if healthy else 503,
    )
