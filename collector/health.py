"""Liveness (/health: the process answers) apart from readiness (/health/ready), and
the Prometheus metrics (/metrics)."""

from __future__ import annotations

from litestar import Response, get, head
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from redis.exceptions import RedisError, ResponseError

from collector import keys, metrics
from collector.runtime import Runtime
from collector.storage import StorageError


@get("/health", summary="The process is up")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@head("/health", summary="The process is up (no body)")
async def health_head() -> None:
    """Load balancers often probe with HEAD."""


@get(
    "/health/ready",
    summary="Redis and storage answer; the stream's backlog",
    responses={503: ResponseSpec(dict[str, str | int], description="Redis or storage is down")},
)
async def ready(runtime: NamedDependency[Runtime]) -> Response[dict[str, str | int]]:
    """503 unless Redis and storage both answer. `stream_length` and `consumer_lag`
    (entries not yet read by the flushers), summed over the shards, say how far storage
    is behind."""
    checks: dict[str, str | int] = {"redis": "ok", "storage": "ok"}
    redis = runtime.redis
    shards = range(runtime.settings.redis_shards)
    try:
        # The streams' lengths in one round trip (on a cluster, one per node); no PING
        # in it, as a cluster pipeline refuses one, and the XLENs prove Redis answers.
        # Reads only, never re-sent: a failure is this answer's 503.
        async with redis.pipeline(transaction=False) as pipeline:
            for shard in shards:
                pipeline.xlen(keys.stream(shard))
            checks["stream_length"] = sum(await pipeline.execute())
        lag = 0
        for shard in shards:
            try:
                groups = await redis.xinfo_groups(keys.stream(shard))
            except ResponseError:  # no stream yet, so nothing behind
                groups = []
            lag += sum(int(group.get("lag") or 0) for group in groups)
        checks["consumer_lag"] = lag
    except (RedisError, OSError) as error:
        checks = {"redis": f"unavailable: {type(error).__name__}", "storage": "ok"}
    try:
        await runtime.storage.ping()
    except StorageError as error:
        checks["storage"] = f"unavailable: {type(error).__name__}"
    healthy = checks["redis"] == "ok" and checks["storage"] == "ok"
    return Response(
        {"status": "ok" if healthy else "unavailable", **checks},
        status_code=200 if healthy else 503,
    )


@get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def prometheus_metrics(runtime: NamedDependency[Runtime]) -> Response[str]:
    """Counters and gauges from Redis (collector/metrics.py); 503 when Redis is down."""
    try:
        body = await metrics.render(runtime.redis, runtime.settings.redis_shards)
    except (RedisError, OSError) as error:
        return Response(
            f"# Redis unavailable: {type(error).__name__}\n",
            status_code=503,
            media_type=metrics.CONTENT_TYPE,
        )
    return Response(body, media_type=metrics.CONTENT_TYPE)


ROUTES = [health, health_head, ready, prometheus_metrics]
