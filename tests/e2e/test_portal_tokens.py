"""A portal's day one, against a real `collector serve`: a key from the CLI, tokens
signed with it, one rating per transaction, and revocation from the CLI."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time

import httpx
import jwt

from tests.e2e.conftest import TOKEN_PATTERN, ServeProcess
from tests.e2e.test_serve import wait_for_count
from tests.helpers import run_cli
from tests.portal_tokens import claims

_TRANSACTION = re.compile(r'name="transaction" value="([^"]*)"')


async def rate(http: httpx.AsyncClient, token: str) -> httpx.Response:
    form = await http.get("/w/demo-passport", params={"t": token})
    assert form.status_code == 200, form.text[:300]
    form_token, carried = TOKEN_PATTERN.search(form.text), _TRANSACTION.search(form.text)
    assert form_token
    assert carried
    fields = {"token": form_token.group(1), "transaction": carried.group(1), "rating": "5"}
    return await http.post("/w/demo-passport", data=fields)


async def test_keys_from_the_cli_sign_tokens_until_revoked(serve: ServeProcess) -> None:
    serve.start()
    added = run_cli(serve.data_dir, "key", "add", "demo", "--kid", "portal-1")
    assert added.returncode == 0, added.stderr
    secret = re.search(r"^secret: (\S+)$", added.stdout, re.MULTILINE)
    assert secret
    claims_sent = claims()
    token = jwt.encode(claims_sent, secret.group(1), algorithm="HS256", headers={"kid": "portal-1"})
    admin = run_cli(serve.data_dir, "token", "--role", "admin").stdout.strip()

    async with httpx.AsyncClient(base_url=serve.url) as http:
        # The running collector follows the CLI within its reload interval.
        deadline = time.monotonic() + 10
        while (await http.get("/w/demo-passport", params={"t": token})).status_code != 200:
            assert time.monotonic() < deadline, "the new key was not picked up"
            await asyncio.sleep(0.1)
        assert (await rate(http, token)).status_code == 303
        assert (await rate(http, token)).status_code == 303  # the same transaction
        report = await http.get(
            "/api/v1/admin/rejections", headers={"authorization": f"Bearer {admin}"}
        )
        # (Polls made before the key was picked up count as token_unknown_key.)
        assert report.json()["services"]["demo-passport"]["duplicate"] == 1

        revoked = run_cli(serve.data_dir, "key", "revoke", "demo", "portal-1")
        assert revoked.returncode == 0, revoked.stderr
        deadline = time.monotonic() + 10
        while (await http.get("/w/demo-passport", params={"t": token})).status_code != 403:
            assert time.monotonic() < deadline, "the revoked key still works"
            await asyncio.sleep(0.1)
        await wait_for_count(http, admin, 1)
    assert serve.terminate() == 0
    with sqlite3.connect(serve.data_dir / "collector.db") as connection:
        stored = connection.execute("SELECT transaction_ref FROM ratings").fetchall()
    assert stored == [(claims_sent["txn"],)]
