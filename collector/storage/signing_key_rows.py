"""What every backend does with signing keys' rows: HS256 secrets sealed on the way in
and opened on the way out (collector/sealed_secrets.py), and sealed again at migration
when the previous COLLECTOR_SECRET sealed them. Those an older collector stored in clear
are sealed once, at the first migration with a sealer, which marks the step done
(SEALED_IN_CLEAR): a secret in clear found after that was planted, and stays refused."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from collector.sealed_secrets import SecretSealer, is_sealed
from collector.signing_keys import SigningKey

logger = logging.getLogger(__name__)

COLUMNS = "kid, tenant_id, algorithm, material, created_at, revoked_at"
ORDER = "ORDER BY created_at, tenant_id, kid"
# Rows whose material may need sealing: (tenant_id, kid, material, revoked_at).
HS256_ROWS = (
    "SELECT tenant_id, kid, material, revoked_at FROM signing_keys WHERE algorithm = 'HS256'"
)
# The name, in completed_steps, of the one-time sealing of secrets in clear.
SEALED_IN_CLEAR = "secrets in clear sealed"


def stored_material(key: SigningKey, sealer: SecretSealer | None) -> str:
    """The material column's value: an HS256 secret sealed, a public key as it is."""
    if key.algorithm != "HS256":
        return key.material
    if sealer is None:
        raise ValueError("storage opened without a sealer cannot keep an HS256 secret")
    return sealer.seal(key.material, key.tenant_id, key.kid)


def key_of(row: Sequence[object], sealer: SecretSealer | None) -> SigningKey:
    """A key from a row in COLUMNS order; an HS256 secret no secret of ours opens
    comes out empty (unusable: SigningKey.verifying_key refuses it)."""
    kid, tenant_id, algorithm, material = (str(value) for value in row[:4])
    if algorithm == "HS256":
        if sealer is not None:
            material = sealer.open(material, tenant_id, kid) or ""
        elif is_sealed(material):
            material = ""
    return SigningKey(
        kid=kid,
        tenant_id=tenant_id,
        algorithm=algorithm,  # type: ignore[arg-type]  # the table's CHECK
        material=material,
        created_at=int(row[4]),  # type: ignore[call-overload]
        revoked_at=None if row[5] is None else int(row[5]),  # type: ignore[call-overload]
    )


def reseal(
    rows: Iterable[Sequence[object]], sealer: SecretSealer, *, seal_in_clear: bool
) -> list[tuple[str, str, str]]:
    """(material, tenant_id, kid) to write for the HS256_ROWS sealed with the previous
    secret, and those in clear if seal_in_clear (the one-time step); warns about active
    keys no secret of ours opens."""
    updates, unopenable = [], []
    for row in rows:
        tenant_id, kid, material = str(row[0]), str(row[1]), str(row[2])
        if not is_sealed(material):
            if seal_in_clear:
                updates.append((sealer.seal(material, tenant_id, kid), tenant_id, kid))
            else:
                sealer.open(material, tenant_id, kid)  # refused, and said so
            continue
        resealed = sealer.resealed(material, tenant_id, kid)
        if resealed is not None:
            updates.append((resealed, tenant_id, kid))
        elif row[3] is None and sealer.open(material, tenant_id, kid) is None:
            unopenable.append(f"{kid} of {tenant_id}")
    if unopenable:
        logger.warning(
            "the HS256 secrets of %s were sealed with another COLLECTOR_SECRET, so tokens "
            "signed with them are refused: set COLLECTOR_PREVIOUS_SECRET to that secret, "
            "or revoke these keys and add new ones",
            ", ".join(unopenable),
        )
    return updates
