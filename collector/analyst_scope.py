"""What one analyst token may see, and periods as that tenant's local days.

Every analytics endpoint and dashboard page goes through AnalystScope, so tenant
isolation is decided in one place: another tenant's service answers exactly like a
service that does not exist (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from collector.auth import AnalystClaims
from collector.errors import BadRequest, NotFound
from collector.local_days import UTC_NAME, day_end, day_start
from collector.runtime import Runtime
from collector.services import Service

# A time series of days longer than two years is a chart nobody can read; weeks and
# months cover longer spans.
MAXIMUM_POINTS = 731


@dataclass(frozen=True, slots=True)
class Period:
    """Whole local days, both ends included; None leaves that end open."""

    first: date | None
    last: date | None

    @property
    def first_text(self) -> str | None:
        return self.first.isoformat() if self.first else None

    @property
    def last_text(self) -> str | None:
        return self.last.isoformat() if self.last else None

    def received_bounds(self, time_zone: str) -> tuple[int | None, int | None]:
        """[from, before) in milliseconds since the epoch, for raw ratings."""
        return (
            day_start(self.first, time_zone) if self.first else None,
            day_end(self.last, time_zone) if self.last else None,
        )


# No rating is older than the epoch; the far end only keeps date arithmetic (a day's
# end, a month's next) clear of year 9999.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2999, 12, 31)


def parse_day(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"{name!r} must be a date as YYYY-MM-DD, not {value[:40]!r}", field=name
        ) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadRequest(
            f"{name!r} must be between {FIRST_DAY} and {LAST_DAY}, not {value}", field=name
        )
    return day


def parse_period(first: str | None, last: str | None) -> Period:
    period = Period(parse_day(first, "from"), parse_day(last, "to"))
    if period.first and period.last and period.first > period.last:
        raise BadRequest("'from' is after 'to'", field="from")
    return period


def month_number(day: date) -> int:
    """Months as whole numbers (year * 12 + month - 1): ranges become arithmetic."""
    return day.year * 12 + day.month - 1


def month_start(number: int) -> date:
    """The first day of a month given by month_number."""
    return date(number // 12, number % 12 + 1, 1)


def point_count(first: date, last: date, interval: str) -> int:
    """How many days, ISO weeks or months the range touches, counted without listing
    them (a thousand years of days is refused before it is built)."""
    if interval == "day":
        return (last - first).days + 1
    if interval == "week":
        return (last - (first - timedelta(days=first.weekday()))).days // 7 + 1
    return month_number(last) - month_number(first) + 1


def period_starts(first: date, last: date, interval: str) -> list[date]:
    """Every period's first day, from the one holding `first` to the one holding
    `last`: weeks start on Monday, months on the 1st."""
    count = point_count(first, last, interval)
    if interval == "day":
        return [first + timedelta(days=offset) for offset in range(count)]
    if interval == "week":
        start = first - timedelta(days=first.weekday())
        return [start + timedelta(weeks=offset) for offset in range(count)]
    return [month_start(month_number(first) + offset) for offset in range(count)]


@dataclass(frozen=True, slots=True)
class AnalystScope:
    claims: AnalystClaims
    runtime: Runtime

    @classmethod
    def from_header(cls, runtime: Runtime, authorization: str | None) -> AnalystScope:
        return cls(runtime.analyst_tokens.verify_header(authorization), runtime)

    def service(self, slug: str) -> Service:
        """The service, or NotFound if it does not exist or is another tenant's."""
        service = self.runtime.services.get(slug)
        if service is None or not self.claims.may_read(service.tenant_id):
            raise NotFound(f"no service {slug!r} in your tenant", field="service")
        return service

    def services(self, tenant: str | None = None) -> list[Service]:
        """The services the token may read, of one tenant if named (platform tokens)."""
        if tenant and not self.claims.may_read(tenant):
            raise NotFound(f"no tenant {tenant!r} for your token", field="tenant")
        return [
            service
            for service in self.runtime.services.all()
            if self.claims.may_read(service.tenant_id)
            and (not tenant or service.tenant_id == tenant)
        ]

    def time_zone(self, tenant_id: str) -> str:
        tenant = self.runtime.tenants.get(tenant_id)
        return tenant.time_zone if tenant else UTC_NAME

    def tenant_name(self, tenant_id: str) -> str:
        tenant = self.runtime.tenants.get(tenant_id)
        return tenant.name if tenant else tenant_id

    @property
    def home_time_zone(self) -> str:
        """The token's tenant's zone (UTC for platform tokens)."""
        return self.time_zone(self.claims.tenant)
