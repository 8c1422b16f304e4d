"""The storage interface every backend implements, and its errors.

One shared test suite runs over every backend (tests/test_storage.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

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
    comments: int = 0
    impressions: int = 0  # widget views over the same days
    bots: int = 0  # ratings flagged as from bots, left out of every other figure


EMPTY_FIGURES = SummaryFigures(count=0, stars=(0, 0, 0, 0, 0), newest_received_at=None)

# The breakdown dimensions kept in the rollups, and the rating column each comes from.
DIMENSIONS: dict[str, str] = {
    "device": "device_class",
    "os": "os_family",
    "browser": "browser_family",
    "language": "language",
    "channel": "channel",
    "office": "office",
    "operator": "operator",
}
Interval = Literal["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """One point of a time series, or one value of a breakdown."""

    key: str  # the period's first day (YYYY-MM-DD), or the dimension's value
    figures: SummaryFigures


@dataclass(frozen=True, slots=True)
class CommentQuery:
    """Which comments to list, newest first (or lowest rating first), a page at a time."""

    services: tuple[str, ...]
    received_from: int | None = None  # milliseconds, inclusive
    received_before: int | None = None  # milliseconds, exclusive
    minimum_rating: int = 1
    maximum_rating: int = 5
    language: str | None = None
    text: str | None = None  # case-insensitive substring
    lowest_first: bool = False
    after: tuple[int, int, str] | None = None  # the cursor: (rating, received_at, id)
    limit: int = 50
    with_comment: bool = True  # False: every rating (exports)
    include_bots: bool = True


@dataclass(frozen=True, slots=True)
class RatingRow:
    """A stored rating as analysts may see it."""

    id: str
    service: str
    rating: int
    comment: str
    language: str
    channel: str
    received_at: int
    device_class: str
    os_family: str
    browser_family: str
    is_bot: bool
    answers: str  # JSON object
    transaction_ref: str | None
    office: str
    operator: str
    answer_seconds: int | None


class Storage(Protocol):
    async def migrate(self) -> None:
        """Bring the schema to the newest version, and seal the HS256 secrets an older
        collector or the previous secret left (with the sealer, in one transaction);
        safe to call on every start."""

    async def store(self, ratings: Sequence[StoredRating]) -> int:
        """Insert ratings not stored yet and update the rollups, in one transaction.

        Ratings whose id is already stored are skipped (and not counted again), so a
        batch delivered twice changes nothing. Returns the number of new rows.
        """

    async def summary(
        self, service: str, first_day: date | None, last_day: date | None
    ) -> SummaryFigures:
        """Figures for one service over whole local days of its tenant, from the rollups."""

    async def totals(
        self, services: Sequence[str], first_day: date | None, last_day: date | None
    ) -> dict[str, SummaryFigures]:
        """Figures per service (answers left out), for league tables; services without
        ratings or views in the period are missing from the result."""

    async def time_series(
        self, service: str, first_day: date, last_day: date, interval: Interval
    ) -> list[PeriodFigures]:
        """Figures per day, ISO week (from Monday) or month; empty periods left out."""

    async def breakdown(
        self, service: str, dimension: str, first_day: date | None, last_day: date | None
    ) -> list[PeriodFigures]:
        """Figures per value of one of DIMENSIONS, most ratings first (no answers,
        comments or impressions: those are per service only)."""

    async def comments(self, query: CommentQuery) -> list[RatingRow]:
        """Up to query.limit ratings in cursor order: received_at descending (then id),
        or with lowest_first, rating ascending first."""

    async def store_impressions(
        self, batch_id: str, counts: Sequence[tuple[str, int, int]]
    ) -> bool:
        """Add widget views: (service, UTC quarter-hour start in milliseconds, views).

        A batch id already applied changes nothing and returns False.
        """

    async def set_tenant_time_zone(self, tenant_id: str, time_zone: str) -> bool:
        """Change the tenant's zone and rebuild its services' rollups in it (a scan of
        their raw ratings). False if there is no such tenant."""

    async def count_ratings(self, service: str | None = None) -> int:
        """Raw rows stored (for checks and tests; not for analytics)."""

    async def purge_comments(self, service: str, received_before: int, limit: int) -> int:
        """Blank the comments of up to `limit` of the service's ratings received before
        the time (milliseconds), in one short transaction; returns how many. The ratings
        and every rollup figure stay, the comment counts included (a rebuild counts a
        purged comment too). Call again until it returns less than `limit`."""

    async def count_comments(self, service: str, received_before: int) -> int:
        """Comments purge_comments would blank (a dry run)."""

    async def erase_transaction(self, service: str, transaction: str) -> int:
        """Delete every stored rating of the portal's transaction reference, and rebuild
        the rollups of the local days they were on, in one transaction: the figures then
        equal a rebuild from the remaining raw ratings. Returns the ratings deleted."""

    async def save_tenant(self, tenant_id: str, name: str) -> None:
        """Create the tenant, or rename it."""

    async def save_service(self, service: Service) -> None:
        """Create the service, or replace its name, language and configuration."""

    async def list_services(self) -> list[Service]: ...

    async def list_tenants(self) -> list[Tenant]:
        """Every tenant with its time zone, by id."""

    async def save_signing_key(self, key: SigningKey) -> None:
        """Add a key, its HS256 secret sealed; RecordRejected if its tenant has a key
        of that kid already (another tenant's kid does not matter), or the tenant does
        not exist."""

    async def revoke_signing_key(
        self, tenant_id: str, kid: str, revoked_at: int
    ) -> SigningKey | None:
        """Mark the tenant's key revoked (once: a second call keeps the first time);
        None if the tenant has no such key."""

    async def list_signing_keys(self) -> list[SigningKey]:
        """Every key, revoked ones included, oldest first; an HS256 secret that the
        sealer cannot open comes with empty material (unusable)."""

    async def ping(self) -> None:
        """Raise StorageUnavailable unless the database answers."""

    async def close(self) -> None: ...
