"""PostgreSQL's portal signing keys, their HS256 secrets sealed (signing_key_rows.py)."""

from __future__ import annotations

import time
from contextlib import AbstractAsyncContextManager

from collector.sealed_secrets import SecretSealer
from collector.signing_keys import SigningKey
from collector.storage.postgres_rollups import MIGRATIONS_LOCK, Connection, advisory_lock
from collector.storage.signing_key_rows import (
    COLUMNS,
    HS256_ROWS,
    ORDER,
    SEALED_IN_CLEAR,
    key_of,
    reseal,
)
from collector.storage.signing_key_rows import stored_material as _stored_material

_INSERT = f"INSERT INTO signing_keys ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)".encode()  # noqa: S608
_REVOKE = (
    b"UPDATE signing_keys SET revoked_at = %s "
    b"WHERE tenant_id = %s AND kid = %s AND revoked_at IS NULL"
)
_RESEAL = b"UPDATE signing_keys SET material = %s WHERE tenant_id = %s AND kid = %s"
_STEP_DONE = b"SELECT 1 FROM completed_steps WHERE step = %s"
_MARK_STEP = b"INSERT INTO completed_steps (step, completed_at) VALUES (%s, %s)"


class PostgresSigningKeys:
    """Mixed into PostgresStorage, which provides _connection and _sealer."""

    _sealer: SecretSealer | None

    def _connection(self) -> AbstractAsyncContextManager[Connection]:
        raise NotImplementedError

    async def save_signing_key(self, key: SigningKey) -> None:
        # Sealed before the connection: its errors would read as refused data.
        material = _stored_material(key, self._sealer)
        parameters = (key.kid, key.tenant_id, key.algorithm, material, key.created_at)
        async with self._connection() as connection:
            await connection.execute(_INSERT, (*parameters, key.revoked_at))

    async def revoke_signing_key(
        self, tenant_id: str, kid: str, revoked_at: int
    ) -> SigningKey | None:
        async with self._connection() as connection, connection.transaction():
            await connection.execute(_REVOKE, (revoked_at, tenant_id, kid))
            keys = await self._keys(
                connection, "WHERE tenant_id = %s AND kid = %s", (tenant_id, kid)
            )
        return keys[0] if keys else None

    async def list_signing_keys(self) -> list[SigningKey]:
        async with self._connection() as connection:
            return await self._keys(connection, "", ())

    async def _keys(
        self, connection: Connection, where: str, parameters: tuple[object, ...]
    ) -> list[SigningKey]:
        sql = f"SELECT {COLUMNS} FROM signing_keys {where} {ORDER}"  # noqa: S608
        cursor = await connection.execute(sql.encode(), parameters)
        return [key_of(row, self._sealer) for row in await cursor.fetchall()]

    async def _reseal_signing_keys(self, connection: Connection) -> None:
        """Seal, in one transaction, the HS256 secrets sealed with the previous secret,
        and the first time those in clear; under the migrations' lock, so processes
        starting together do not both seal a secret."""
        if self._sealer is None:
            return
        async with connection.transaction():
            await connection.execute(advisory_lock(MIGRATIONS_LOCK))
            done = await connection.execute(_STEP_DONE, (SEALED_IN_CLEAR,))
            first = await done.fetchone() is None
            cursor = await connection.execute(f"{HS256_ROWS} FOR UPDATE".encode())
            updates = reseal(await cursor.fetchall(), self._sealer, seal_in_clear=first)
            if updates:
                async with connection.cursor() as writer:
                    await writer.executemany(_RESEAL, updates)
            if first:
                await connection.execute(_MARK_STEP, (SEALED_IN_CLEAR, int(time.time())))
