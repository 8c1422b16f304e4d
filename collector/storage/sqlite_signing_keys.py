"""SQLite's portal signing keys, their HS256 secrets sealed (signing_key_rows.py)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from collector.sealed_secrets import SecretSealer
from collector.signing_keys import SigningKey
from collector.storage.signing_key_rows import (
    COLUMNS,
    HS256_ROWS,
    ORDER,
    SEALED_IN_CLEAR,
    key_of,
    reseal,
)
from collector.storage.signing_key_rows import stored_material as _stored_material
from collector.storage.sqlite_queries import write_transaction

T = TypeVar("T")

_INSERT = f"INSERT INTO signing_keys ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608
_REVOKE = (
    "UPDATE signing_keys SET revoked_at = ? WHERE tenant_id = ? AND kid = ? AND revoked_at IS NULL"
)
_RESEAL = "UPDATE signing_keys SET material = ? WHERE tenant_id = ? AND kid = ?"
_STEP_DONE = "SELECT 1 FROM completed_steps WHERE step = ?"
_MARK_STEP = "INSERT INTO completed_steps (step, completed_at) VALUES (?, ?)"


class SqliteSigningKeys:
    """Mixed into SqliteStorage, which provides _run and _sealer."""

    _sealer: SecretSealer | None

    async def _run(self, role: str, work: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def save_signing_key(self, key: SigningKey) -> None:
        parameters = (
            key.kid,
            key.tenant_id,
            key.algorithm,
            _stored_material(key, self._sealer),
            key.created_at,
            key.revoked_at,
        )
        await self._run("writer", lambda connection: connection.execute(_INSERT, parameters))

    async def revoke_signing_key(
        self, tenant_id: str, kid: str, revoked_at: int
    ) -> SigningKey | None:
        def revoke(connection: sqlite3.Connection) -> SigningKey | None:
            connection.execute(_REVOKE, (revoked_at, tenant_id, kid))
            keys = self._keys(connection, "WHERE tenant_id = ? AND kid = ?", (tenant_id, kid))
            return keys[0] if keys else None

        return await self._run("writer", revoke)

    async def list_signing_keys(self) -> list[SigningKey]:
        return await self._run("reader", lambda connection: self._keys(connection, "", ()))

    def _keys(
        self, connection: sqlite3.Connection, where: str, parameters: tuple[object, ...]
    ) -> list[SigningKey]:
        sql = f"SELECT {COLUMNS} FROM signing_keys {where} {ORDER}"  # noqa: S608
        return [key_of(row, self._sealer) for row in connection.execute(sql, parameters)]


def reseal_signing_keys(connection: sqlite3.Connection, sealer: SecretSealer | None) -> bool:
    """Seal, in one transaction, the HS256 secrets sealed with the previous secret, and
    the first time those in clear; True if any row changed."""
    if sealer is None:
        return False
    with write_transaction(connection):
        first = connection.execute(_STEP_DONE, (SEALED_IN_CLEAR,)).fetchone() is None
        rows = connection.execute(HS256_ROWS).fetchall()
        updates = reseal(rows, sealer, seal_in_clear=first)
        connection.executemany(_RESEAL, updates)
        if first:
            connection.execute(_MARK_STEP, (SEALED_IN_CLEAR, int(time.time())))
    return bool(updates)
