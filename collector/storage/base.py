"""The storage interface every backend implements, and its errors.

One shared test suite runs over every backend (tests/test_storage.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from collector.messages import StoredRating
from collector.services import Service, Tenant
from collector.signing_keys import SigningKey


class StorageError(Exception):
    """Base class for storage failures."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or written now; retrying later may work."""


class RecordRejected(StorageError):
    """The database refused the data itself; retrying the same rows will fail again."""


@dataclass(frozen=True, slots=True)
class SummaryFigures:
    count: int
    stars: tuple[int, int, int, int, int]
    newest_received_at: int | None  # milliseconds since the epoch
    answers: dict[str, dict[str, int]] = field(default_factory=dict)
    answered: int = 0  # ratings that carry the time the agency took to answer
    answer_seconds_sum: int = 0


class Storage(Protocol):
    async def migrate(self) -> None:
        """Bring the schema to the newest version; safe to call on every start."""

    async def store(self, ratings: Sequence[StoredRating]) -> int:
        """Insert ratings not stored yet and update the rollups, in one transaction.

        Ratings whose id is already stored are skipped (and not counted again), so a
        batch delivered twice changes nothing. Returns the number of new rows.
        """

    async def summary(
        self, service: str, first_day: date | None, last_day: date | None
    ) -> SummaryFigures:
        """Figures for one service over whole UTC days, from the rollups."""

    async def count_ratings(self, service: str | None = None) -> int:
        """Raw rows stored (for checks and tests; not for analytics)."""

    async def save_tenant(self, tenant_id: str, name: str) -> None:
        """Create the tenant, or rename it."""

    async def save_service(self, service: Service) -> None:
        """Create the service, or replace its name, language and configuration."""

    async def list_services(self) -> list[Service]: ...

    async def list_tenants(self) -> list[Tenant]: ...

    async def save_signing_key(self, key: SigningKey) -> None:
        """Add a key; RecordRejected if its kid exists or its tenant does not."""

    async def revoke_signing_key(self, kid: str, revoked_at: int) -> SigningKey | None:
        """Mark the key revoked (once: a second call keeps the first time); None if
        there is no such key."""

    async def list_signing_keys(self) -> list[SigningKey]:
        """Every key, revoked ones included, oldest first."""

    async def ping(self) -> None:
        """Raise StorageUnavailable unless the database answers."""

    async def close(self) -> None: ...
