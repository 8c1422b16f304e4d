"""Services: what can be rated, and which tenant (agency) owns it.

The hot path looks services up in memory; the catalog is loaded from storage at
start-up, so a request never waits on SQL to learn whether a service exists.
"""

from __future__ import annotations

import msgspec

DEMO_TENANT_ID = "demo"
DEMO_TENANT_NAME = "Demo agency"


class Service(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    tenant_id: str
    name: str
    default_language: str = "en"


DEMO_SERVICE = Service(
    slug="demo-passport",
    tenant_id=DEMO_TENANT_ID,
    name="Passport renewal (demo)",
    default_language="en",
)


class ServiceCatalog:
    """An in-memory map of service slug to Service."""

    def __init__(self, services: list[Service] | None = None) -> None:
        self._services = {service.slug: service for service in services or []}

    def get(self, slug: str) -> Service | None:
        return self._services.get(slug)

    def replace(self, services: list[Service]) -> None:
        self._services = {service.slug: service for service in services}

    def __len__(self) -> int:
        return len(self._services)
