"""`collector serve` end to end: what a new user sees, does, and keeps."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import TOKEN_PATTERN, ServeProcess, embedded_server_pid
from tests.helpers import run_cli
from tests.test_embedded_redis import wait_until_gone

CITIZEN_ADDRESS = "198.51.100.77"  # sent as X-Forwarded-For through a trusted local proxy


async def rate(http: httpx.AsyncClient, stars: int, comment: str = "") -> httpx.Response:
    form = await http.get("/w/demo-passport")
    match = TOKEN_PATTERN.search(form.text)
    assert match, form.text[:200]
    return await http.post(
        "/w/demo-passport",
        data={"token": match.group(1), "rating": str(stars), "comment": comment},
        headers={"x-forwarded-for": CITIZEN_ADDRESS},
    )


async def summary_count(http: httpx.AsyncClient, token: str) -> int:
    response = await http.get(
        "/api/v1/services/demo-passport/summary", headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


async def wait_for_count(http: httpx.AsyncClient, token: str, expected: int) -> None:
    deadline = time.monotonic() + 60
    while (count := await summary_count(http, token)) != expected:
        assert count < expected, f"{count} ratings stored, expected {expected}"
        assert time.monotonic() < deadline, f"only {count} of {expected} flushed"
        await asyncio.sleep(0.1)


async def test_first_run_rate_flush_stop_and_restart(serve: ServeProcess) -> None:
    serve.start()
    assert serve.banner["Widget URL"] == f"{serve.url}/w/demo-passport"
    assert serve.banner["Iframe snippet"].startswith(f'<iframe src="{serve.url}/w/demo-passport"')
    token = serve.analyst_token

    async with httpx.AsyncClient(base_url=serve.url) as http:
        response = await rate(http, 4, "Quick, clear, polite")
        assert response.status_code == 303
        thanks = await http.get(response.headers["location"])
        assert "Thank you!" in thanks.text
        await wait_for_count(http, token, 1)
        # Ratings acknowledged just before shutdown must survive it.
        for stars in (1, 2, 3, 4, 5) * 5:  # 26 in all: under the 30 a minute limit
            assert (await rate(http, stars)).status_code == 303

    redis_pid = embedded_server_pid(serve.data_dir)
    assert serve.terminate() == 0
    assert wait_until_gone(redis_pid), "the embedded server outlived the collector"
    assert not (serve.data_dir / "redis.url").exists()

    serve.start()  # a second `make run`: same data directory
    async with httpx.AsyncClient(base_url=serve.url) as http:
        await wait_for_count(http, serve.analyst_token, 26)
    assert serve.terminate() == 0

    # No raw client address anywhere: not in logs, storage or the Redis AOF.
    database = (serve.data_dir / "collector.db").read_bytes()
    assert CITIZEN_ADDRESS.encode() not in database
    for path in (serve.data_dir / "redis").rglob("*"):
        if path.is_file():
            assert CITIZEN_ADDRESS.encode() not in path.read_bytes(), path
    assert CITIZEN_ADDRESS not in serve.log()


async def test_a_second_collector_on_the_same_data_is_refused(
    serve: ServeProcess, tmp_path: Path
) -> None:
    serve.start()
    second = ServeProcess(serve.data_dir)
    try:
        second.start(timeout_seconds=30)
    except AssertionError:
        pass
    else:
        raise AssertionError("a second collector started on the same data directory")
    finally:
        second.kill()
    assert "another collector is serving from" in second.log()


async def test_a_thousand_concurrent_citizens_make_a_thousand_rows(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data", {"COLLECTOR_RATE_LIMIT_PER_MINUTE": "1000000"})
    serve.start()
    try:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=serve.url, limits=limits, timeout=30) as http:
            gate = asyncio.Semaphore(50)

            async def citizen(number: int) -> int:
                async with gate:
                    return (await rate(http, number % 5 + 1)).status_code

            statuses = await asyncio.gather(*(citizen(n) for n in range(1000)))
            assert statuses == [303] * 1000
            await wait_for_count(http, serve.analyst_token, 1000)
        assert serve.terminate() == 0
        with sqlite3.connect(serve.data_dir / "collector.db") as connection:
            rows, distinct = connection.execute(
                "SELECT count(*), count(DISTINCT id) FROM ratings"
            ).fetchone()
            per_star = connection.execute(
                "SELECT rating, count(*) FROM ratings GROUP BY rating ORDER BY rating"
            ).fetchall()
        assert (rows, distinct) == (1000, 1000)
        assert per_star == [(star, 200) for star in range(1, 6)]
    finally:
        serve.kill()


async def test_a_running_collector_follows_service_changes(serve: ServeProcess) -> None:
    serve.start()
    data_dir = serve.data_dir
    async with httpx.AsyncClient(base_url=serve.url) as http:
        assert (await http.get("/w/permits")).status_code == 404
        assert run_cli(data_dir, "tenant", "add", "city", "--name", "City").returncode == 0
        added = ("service", "add", "permits", "--tenant", "city", "--name", "Permits")
        assert run_cli(data_dir, *added).returncode == 0
        await eventually_status(http, "/w/permits", 200)
        changed = run_cli(
            data_dir, "service", "update", "permits", "--config", "-", stdin='{"layout": "compact"}'
        )
        assert changed.returncode == 0
        deadline = time.monotonic() + 30
        while '<body class="compact">' not in (await http.get("/w/permits")).text:
            assert time.monotonic() < deadline, "the new layout was not picked up"
            await asyncio.sleep(0.2)
    assert serve.terminate() == 0


async def eventually_status(http: httpx.AsyncClient, path: str, status: int) -> None:
    deadline = time.monotonic() + 30
    while (await http.get(path)).status_code != status:
        assert time.monotonic() < deadline, f"{path} never answered {status}"
        await asyncio.sleep(0.2)
