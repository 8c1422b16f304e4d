"""`collector key add|rotate|revoke|list`: the portals' transaction-token signing keys.

A running `collector serve` picks changes up within CONFIGURATION_RELOAD_SECONDS. A kid
is unique within its tenant, so revoking names the tenant too. HS256 secrets are sealed
with COLLECTOR_SECRET, so these commands need the collectors' secret (or their data
directory, where a generated one is kept).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import TextIO

from collector.sealed_secrets import sealer_for
from collector.service_commands import CommandError
from collector.settings import Settings
from collector.signing_keys import ALGORITHMS, KeyMaterialError, SigningKey, new_signing_key
from collector.storage import RecordRejected, Storage, open_storage


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    key = commands.add_parser("key", help="manage the portals' token signing keys")
    actions = key.add_subparsers(dest="action", required=True)
    for action, text in (
        ("add", "add a key to a tenant"),
        ("rotate", "add a new key beside the tenant's current ones (revoke those later)"),
    ):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("tenant")
        parser.add_argument(
            "--algorithm",
            choices=ALGORITHMS,
            help="HS256 (a secret generated here; the default for add), or EdDSA / RS256 "
            "with --public-key; rotate keeps the newest key's algorithm",
        )
        parser.add_argument("--public-key", help="PEM file with the portal's public key")
        parser.add_argument("--kid", help="key id (default: TENANT-YYYYMMDD-random)")
    revoke = actions.add_parser("revoke", help="revoke a key: its tokens fail at once")
    revoke.add_argument("tenant")
    revoke.add_argument("kid")
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--tenant")


def run(arguments: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    public_key = None
    if getattr(arguments, "public_key", None):
        try:
            public_key = Path(arguments.public_key).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {arguments.public_key}: {error}") from None
    return asyncio.run(_run(arguments, settings, public_key, out))


async def _run(
    arguments: argparse.Namespace, settings: Settings, public_key: str | None, out: TextIO
) -> int:
    settings = settings.with_secret()
    storage = open_storage(settings.effective_database_url, sealer_for(settings))
    try:
        await storage.migrate()
        keys = await storage.list_signing_keys()
        if arguments.action in ("add", "rotate"):
            await _add(storage, arguments, keys, public_key, out)
        elif arguments.action == "revoke":
            revoked = await storage.revoke_signing_key(
                arguments.tenant, arguments.kid, int(time.time())
            )
            if revoked is None:
                raise CommandError(f"no key {arguments.kid!r} in tenant {arguments.tenant!r}")
            print(f"key {revoked.kid} of {revoked.tenant_id} revoked", file=out)
        else:
            for key in keys:
                if arguments.tenant in (None, key.tenant_id):
                    state = "revoked " + _when(key.revoked_at) if key.revoked_at else "active"
                    print(
                        f"{key.kid}\t{key.tenant_id}\t{key.algorithm}\t"
                        f"created {_when(key.created_at)}\t{state}",
                        file=out,
                    )
    finally:
        await storage.close()
    return 0


def _when(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


async def _add(
    storage: Storage,
    arguments: argparse.Namespace,
    keys: list[SigningKey],
    public_key: str | None,
    out: TextIO,
) -> None:
    tenant = arguments.tenant
    if tenant not in {t.id for t in await storage.list_tenants()}:
        raise CommandError(f"no tenant {tenant!r}: create it with `collector tenant add`")
    active = [key for key in keys if key.tenant_id == tenant and not key.revoked]
    unopened = sum(not key.revoked and not key.material for key in keys)
    if unopened:
        # A secret sealed now with another secret than the collectors' would be one
        # they cannot open either. (Counted, not named: they may be other tenants'.)
        raise CommandError(
            f"COLLECTOR_SECRET does not open the stored secrets of {unopened} active "
            "key(s): run this with the collectors' COLLECTOR_SECRET"
        )
    algorithm = arguments.algorithm
    if algorithm is None:
        if arguments.action == "rotate" and not active:
            raise CommandError(f"tenant {tenant!r} has no active key to rotate: use `key add`")
        algorithm = active[-1].algorithm if arguments.action == "rotate" else "HS256"
    try:
        key = new_signing_key(tenant, algorithm, public_key, arguments.kid)
        await storage.save_signing_key(key)
    except KeyMaterialError as error:
        raise CommandError(str(error)) from None
    except RecordRejected:
        raise CommandError(
            f"tenant {tenant!r} has a key {arguments.kid!r} already; choose another --kid"
        ) from None
    print(f"kid: {key.kid}\nalgorithm: {key.algorithm}\ntenant: {tenant}", file=out)
    if key.algorithm == "HS256":
        print(f"secret: {key.material}", file=out)
        print(
            "Keep the secret on the portal's server only; it is not shown again.",
            file=out,
        )
    if arguments.action == "rotate" and active:
        old = ", ".join(k.kid for k in active)
        print(
            f"Still accepted: {old}. Once the portal signs with {key.kid}, run "
            f"`collector key revoke {tenant} KID` for each.",
            file=out,
        )
