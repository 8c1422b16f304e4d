"""No raw client address anywhere after a run: not in the collector's log (at DEBUG),
not in Redis (every key and value while it runs, and its files), not in storage.

The collector listens on an address of its own (127.0.0.77), so that every client
address below, 127.0.0.1 included, can only have come from a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import redis

from collector import keys
from collector.runner import EMBEDDED_URL_FILE
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import TOKEN_PATTERN, ServeProcess

LISTEN = "127.0.0.77"
PEER = "127.0.0.1"  # a citizen connecting directly, from the usual loopback address
DIRECT = "127.0.0.55"  # another one, whose X-Forwarded-For is not believed
SPOOFED = "203.0.113.99"  # what that one claims in X-Forwarded-For
PROXY = "127.0.0.66"  # a trusted proxy (COLLECTOR_FORWARDED_ALLOW_IPS)
FORWARDED = ("198.51.100.23", "2001:db8::23")  # citizens behind the proxy
# (source address, X-Forwarded-For) of each citizen
CITIZENS = [(PEER, None), (DIRECT, SPOOFED), *((PROXY, address) for address in FORWARDED)]
RATE_LIMIT = 3  # per citizen and minute: the fourth rating of each is refused (429)


def text_forms(address: str) -> set[bytes]:
    """The ways an address is written as text: as given, compressed, exploded."""
    parsed = ipaddress.ip_address(address)
    forms = {address, str(parsed), parsed.exploded}
    return {form.encode() for form in forms} | {form.upper().encode() for form in forms}


async def rate(http: httpx.AsyncClient, forwarded: str | None, **fields: str) -> int:
    form = await http.get("/w/demo-passport")
    token = TOKEN_PATTERN.search(form.text)
    assert token, form.text[:200]
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    response = await http.post(
        "/w/demo-passport", data={"token": token.group(1), **fields}, headers=headers
    )
    return response.status_code


async def visit(base_url: str, source: str, forwarded: str | None) -> list[int]:
    """What one citizen does: good ratings up to and past the limit, and bad ones."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        statuses = [await rate(http, forwarded, rating="4") for _ in range(RATE_LIMIT + 1)]
        statuses.append(await rate(http, forwarded, rating="9"))  # out of range
        headers = {"x-forwarded-for": forwarded} if forwarded else {}
        forged = await http.post(
            "/w/demo-passport", data={"token": "1.forged.token", "rating": "5"}, headers=headers
        )
        unknown = await http.post("/w/no-such-service", data={"rating": "5"}, headers=headers)
        statuses += [forged.status_code, unknown.status_code]
        for path in ("/w/demo-passport/thanks", "/health/ready", "/metrics"):
            await http.get(path, headers=headers)
    return statuses


def redis_contents(url: str) -> bytes:
    """Every key and every value, in every form Redis gives them out."""
    parts: list[Any] = []
    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            parts += [key, client.dump(key)]
            if kind == "string":
                parts.append(client.get(key))
            elif kind == "hash":
                parts.append(client.hgetall(key))
            elif kind == "list":
                parts.append(client.lrange(key, 0, -1))
            elif kind == "set":
                parts.append(client.smembers(key))
            elif kind == "zset":
                parts.append(client.zrange(key, 0, -1, withscores=True))
            elif kind == "stream":
                parts.append(client.xrange(key))
                parts.append(client.execute_command("XINFO", "STREAM", key, "FULL"))
            else:
                raise AssertionError(f"a Redis key of a type this test does not read: {kind}")
    return repr(parts).encode()


def files_under(directory: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in directory.rglob("*") if path.is_file()}


async def test_no_raw_ip_in_logs_redis_or_storage(tmp_path: Path) -> None:
    serve = ServeProcess(
        tmp_path / "data",
        {
            "COLLECTOR_HOST": LISTEN,
            "COLLECTOR_LOG_LEVEL": "debug",
            "COLLECTOR_FORWARDED_ALLOW_IPS": PROXY,
            "COLLECTOR_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
            "COLLECTOR_SECRET": TEST_SECRET,
        },
    )
    serve.start()
    try:
        base_url = f"http://{LISTEN}:{serve.port}"
        visits = [visit(base_url, source, forwarded) for source, forwarded in CITIZENS]
        for statuses in await asyncio.gather(*visits):
            assert statuses == [303] * RATE_LIMIT + [429, 422, 403, 404]
        database = serve.data_dir / "collector.db"
        await wait_for_rows(database, RATE_LIMIT * len(CITIZENS))
        url = (serve.data_dir / EMBEDDED_URL_FILE).read_text(encoding="ascii").strip()
        with redis.Redis.from_url(url) as client:
            assert client.xlen(keys.STREAM) > 0  # the ratings' entries are still there
            stream = repr(client.xrange(keys.STREAM)).encode()
            rate_keys = list(client.scan_iter(match="cf:*:rate:demo-passport:*"))
        hashes = {key.rsplit(b":", 1)[1] for key in rate_keys}
        places = {"redis": redis_contents(url)}
        assert serve.terminate() == 0
        places.update(files_under(serve.data_dir))  # SQLite, AOF, server log, spool
        places["collector log"] = serve.log().encode()
        places["banner"] = repr(serve.banner).encode()
        assert b" DEBUG " in places["collector log"]  # the most talkative level
        # The search sees an address where one is written: the collector's own.
        assert any(form in places["collector log"] for form in text_forms(LISTEN))
        # Each citizen was told apart (a rate limit each) by its client hash, which is
        # only in the limit's expiring key: not in the stream's entries, nor in storage.
        assert len(hashes) == len(CITIZENS)
        stored = b"".join(content for place, content in places.items() if ".db" in place)
        assert [h for h in hashes if h in stream or h in stored] == []
        addresses = [PEER, DIRECT, SPOOFED, PROXY, *FORWARDED]
        found = [
            f"{address} in {place}"
            for address in addresses
            for place, content in places.items()
            if any(form in content for form in text_forms(address))
        ]
        assert found == []
    finally:
        serve.kill()


async def wait_for_rows(database: Path, expected: int) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        count = query(database, "SELECT count(*) FROM ratings")
        if count >= expected:
            assert count == expected
            return
        assert asyncio.get_running_loop().time() < deadline, f"{count} of {expected} stored"
        await asyncio.sleep(0.1)


def query(database: Path, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return int(connection.execute(sql).fetchone()[0])
